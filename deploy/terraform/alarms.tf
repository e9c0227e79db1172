# Alarms on the controller itself (the Redash-side alerts are in docs/operations.md and the
# Datadog module). Both notify var.alarms.actions when they fire and when they clear.

locals {
  alarms_enabled = var.alarms.enabled
  # The error-line alarm reads the CloudWatch log group, which the controller writes only when
  # its logs do not go through FireLens (no datadog, or datadog.log_router = "none").
  log_alarm_enabled = var.alarms.enabled && !local.logs_to_datadog
}

# AWS/ECS publishes a service's CPUUtilization once a minute for every running task; no sample
# at all for five minutes means no controller task is running (a crash loop, a task that cannot
# start, the service scaled to 0). Nothing then scales Redash.
resource "aws_cloudwatch_metric_alarm" "no_running_task" {
  count               = local.alarms_enabled ? 1 : 0
  alarm_name          = "${var.name}-no-running-task"
  alarm_description   = "No task of the Redash autoscaler has run for 5 minutes: nothing scales Redash's workers. Runbook: docs/operations.md#the-controller-is-not-running."
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = aws_ecs_service.this.name }
  statistic           = "SampleCount"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = var.alarms.actions
  ok_actions          = var.alarms.actions
  tags                = var.tags
}

# A failed reconcile logs an error line naming the dependency (Redis, ECS, the database); a
# failure that lasts is logged again about once a minute. Ten minutes of it raise the alarm, a
# single blip does not.
resource "aws_cloudwatch_log_metric_filter" "errors" {
  count          = local.log_alarm_enabled ? 1 : 0
  name           = "${var.name}-error-lines"
  log_group_name = aws_cloudwatch_log_group.this.name
  pattern        = "{ ($.level = \"error\") || ($.level = \"critical\") }"
  metric_transformation {
    name          = "ErrorLogLines"
    namespace     = "RedashAutoscaler/${var.name}"
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "error_lines" {
  count               = local.log_alarm_enabled ? 1 : 0
  alarm_name          = "${var.name}-errors"
  alarm_description   = "The Redash autoscaler has logged at least ${var.alarms.error_lines_per_5m} error lines in each of two 5-minute periods: it cannot read Redis, ECS or its database, or cannot act, and holds every service where it is. Runbook: docs/operations.md#runbook."
  namespace           = aws_cloudwatch_log_metric_filter.errors[0].metric_transformation[0].namespace
  metric_name         = aws_cloudwatch_log_metric_filter.errors[0].metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarms.error_lines_per_5m
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarms.actions
  ok_actions          = var.alarms.actions
  tags                = var.tags
}
