variable "service_tag" {
  description = "The `app` tag the Datadog agent sidecar puts on the controller's metrics (the main module's datadog.service_tag); the monitors are tagged service:<it>."
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

variable "env" {
  description = "The main module's datadog.env: every query is scoped to env:<it> and the monitors are tagged with it, so that one copy of this module per environment alerts on its own controller. null: no env scope."
  type        = string
  default     = null
}

variable "celery_monitor" {
  description = "Create the \"Celery workers do not answer\" monitor (for policies with celery.inspect, Redash v7–v8; without it the monitor never fires)."
  type        = bool
  default     = true
}

variable "blocked_queries_monitor" {
  description = "Create the \"scheduled queries blocked by their lock\" monitor (needs the controller's database input: the forecast reads the locks; without it the monitor never fires)."
  type        = bool
  default     = true
}
