output "service_name" {
  description = "The controller's ECS service."
  value       = aws_ecs_service.this.name
}

output "managed_services" {
  description = "The Redash services the task role may describe and update: the keys of the policy's `services:`."
  value       = local.managed_services
}

output "task_role_arn" {
  description = "The role the controller acts with (its policy: deploy/iam/controller-policy.json.tftpl)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "The role ECS uses to start the task (image, logs, secrets)."
  value       = aws_iam_role.execution.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the controller (and of the sidecars with Datadog)."
  value       = aws_cloudwatch_log_group.this.name
}

output "task_role_policy_json" {
  description = "The rendered least-privilege policy, to review."
  value       = aws_iam_role_policy.task.policy
}

output "dry_run_policy_json" {
  description = "The read-only policy for people who run plan, queues, services, forecast and run --dry-run against this cluster (deploy/iam/dry-run-policy.json.tftpl, rendered for these services)."
  value       = templatefile("${path.module}/../iam/dry-run-policy.json.tftpl", local.iam_template_values)
}

output "alarm_arns" {
  description = "The CloudWatch alarms on the controller's own health (empty when alarms.enabled is false)."
  value       = concat(aws_cloudwatch_metric_alarm.no_running_task[*].arn, aws_cloudwatch_metric_alarm.error_lines[*].arn)
}

output "policy_parameter_name" {
  description = "The Parameter Store parameter the controller reads its policy from (null when the policy is in the task definition). Edit it with aws ssm put-parameter --name NAME --type SecureString --overwrite --value file://policies.yaml (deploy/README.md)."
  value       = local.policy_parameter_name
}

output "policy_parameter_arn" {
  description = "Its ARN: the one resource of the task role's ssm:GetParameter."
  value       = local.policy_parameter_arn
}
