output "service_name" {
  description = "The controller's ECS service."
  value       = aws_ecs_service.this.name
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
