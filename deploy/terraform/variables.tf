variable "name" {
  description = "Name of the controller's ECS service, task family, roles and log group."
  type        = string
  default     = "redash-autoscaler"
}

variable "cluster_name" {
  description = "The ECS cluster that runs Redash (the controller runs there too)."
  type        = string
}

variable "managed_services" {
  description = "Names of the Redash ECS services the controller sizes (the services of policies.yaml). The task role may describe and update these and no others."
  type        = list(string)
}

variable "subnet_ids" {
  description = "Private subnets for the controller's task: it needs Redis, PostgreSQL and the ECS API (through a NAT gateway or VPC endpoints)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups for the controller's task: allow egress to Redis (6379), PostgreSQL (5432) and HTTPS (443); ingress only to the metrics port from your scraper, if any."
  type        = list(string)
}

variable "image" {
  description = "The controller's image (built from deploy/Dockerfile), pinned by digest or immutable tag."
  type        = string
}

variable "policy_yaml" {
  description = "Contents of policies.yaml. Changing it rolls the service (a new task definition). Secrets stay out of it: it reads $${REDASH_REDIS_URL} and $${REDASH_DATABASE_URL} from the container's secrets."
  type        = string
}

variable "redis_url_parameter_arn" {
  description = "ARN of the SSM parameter (SecureString) or Secrets Manager secret holding Redash's Redis URL, as REDASH_REDIS_URL."
  type        = string
}

variable "database_url_parameter_arn" {
  description = "ARN of the SSM parameter or secret holding Redash's database URL (REDASH_DATABASE_URL). Optional: without it the controller works from Redis alone and must run as exactly one task."
  type        = string
  default     = null
}

variable "secrets_kms_key_arn" {
  description = "KMS key that encrypts the parameters above, if not the AWS-managed key."
  type        = string
  default     = null
}

variable "replicas" {
  description = "Tasks to run. Default: 2 with a database (one leads through the PostgreSQL lease, one stands by), 1 without."
  type        = number
  default     = null
}

variable "dry_run" {
  description = "Run with --dry-run: read and decide, log what would change, change nothing. The first step of docs/migration.md."
  type        = bool
  default     = true
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
  default     = 512
}

variable "metrics_port" {
  description = "Port of /healthz, /readyz, /metrics, /status."
  type        = number
  default     = 8080
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log group."
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key for the CloudWatch log group (optional)."
  type        = string
  default     = null
}

variable "datadog" {
  description = "Send logs to Datadog through FireLens (a Fluent Bit sidecar) and metrics through DogStatsD to a Datadog agent sidecar. null keeps CloudWatch Logs and Prometheus only."
  type = object({
    api_key_parameter_arn = string
    site                  = optional(string, "datadoghq.com")
    service_tag           = optional(string, "redash-autoscaler")
  })
  default = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
