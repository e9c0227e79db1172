variable "service_tag" {
  description = "The `app` tag the Datadog agent sidecar puts on the controller's metrics (the main module's datadog.service_tag)."
  type        = string
  default     = "redash-autoscaler"
}

variable "notify" {
  description = "Who monitors notify, as Datadog handles (for example \"@slack-sre-alerts @pagerduty-redash\")."
  type        = string
}

variable "max_wait_seconds" {
  description = "Alert when the oldest waiting job of any queue is older than this for 10 minutes (the services are at maxTasks or ECS cannot start tasks)."
  type        = number
  default     = 300
}
