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

output "kill_switch" {
  description = "Where the controller reads its kill switch (REDASH_AUTOSCALER_KILL_SWITCH: a file path or ssm:NAME), null without one."
  value       = local.kill_switch_location
}

output "kill_switch_file" {
  description = "The kill-switch file, on a writable volume of each task: `aws ecs execute-command --cluster CLUSTER --task TASK --container controller --interactive --command \"/bin/sh -c 'echo paused > PATH.new && mv PATH.new PATH'\"` in every task (docs/operations.md#emergency-brakes). null without one."
  value       = var.kill_switch_file
}

output "kill_switch_parameter_name" {
  description = "The kill-switch parameter: `aws ssm put-parameter --name NAME --type String --value paused --overwrite` pauses every service from the next tick; `--value active` resumes (docs/operations.md#emergency-brakes). null without one."
  value       = local.kill_switch_parameter_name
}

output "kill_switch_parameter_arn" {
  description = "Its ARN: the one resource of the task role's ssm:GetParameter for the kill switch."
  value       = local.kill_switch_parameter_arn
}

output "execute_command_enabled" {
  description = "Whether ECS Exec is on for the controller's tasks (enable_execute_command)."
  value       = aws_ecs_service.this.enable_execute_command
}

output "operator_brakes_policy_json" {
  description = "An IAM policy for the people who pull the brakes: find the controller's tasks, ECS Exec into its controller container (with enable_execute_command), and write the kill-switch parameter (with kill_switch_parameter). Attach it to the on-call role."
  value       = data.aws_iam_policy_document.operator_brakes.json
}
