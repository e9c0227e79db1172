variable "name" {
  description = "Name of the controller's ECS service, task family, roles and log group."
  type        = string
  default     = "redash-autoscaler"
}

variable "cluster_name" {
  description = "The ECS cluster that runs Redash (the controller runs there too)."
  type        = string
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
  description = "Contents of policies.yaml. The task role may describe and update exactly the services under its `services:` key, so the role and the policy cannot disagree. Changing it rolls the service (a new task definition), unless policy_parameter puts it in Parameter Store: then it is a new parameter version, reloaded by the running controller. Secrets stay out of it: it reads $${REDASH_REDIS_URL} and $${REDASH_DATABASE_URL} from the container's secrets, and $${REDASH_ECS_CLUSTER} is set to cluster_name."
  type        = string

  validation {
    condition     = can(keys(yamldecode(var.policy_yaml).services)) && length(try(keys(yamldecode(var.policy_yaml).services), [])) > 0
    error_message = "policy_yaml must be YAML with a non-empty `services:` map (see policies.yaml)."
  }
}

variable "policy_parameter" {
  description = <<-EOT
    Keep the policy in SSM Parameter Store instead of the task definition: the controller runs with `--policies ssm:NAME`, reads the parameter every 30 s and applies a new version without a deployment (docs/policies.md). null: the policy goes in the task definition ($REDASH_AUTOSCALER_POLICY_YAML, never reloaded) and every edit is a deployment.
    name: the parameter, such as /redash-autoscaler/policy. create (default true): make it, a SecureString holding policy_yaml; false: read a parameter managed elsewhere (policy_yaml still names the services the role covers, so keep its services: the same). terraform_owns_value (default true): every apply writes policy_yaml as a new version; false: written once, later edits with `aws ssm put-parameter --overwrite` are left alone. kms_key_arn: a customer-managed key that encrypts it; the task role may decrypt with it for this parameter only (the AWS-managed aws/ssm key needs no grant).
  EOT
  type = object({
    name                 = string
    create               = optional(bool, true)
    terraform_owns_value = optional(bool, true)
    kms_key_arn          = optional(string)
  })
  default = null

  validation {
    condition     = var.policy_parameter == null || can(regex("^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.policy_parameter.name))
    error_message = "policy_parameter.name must be a Parameter Store name such as /redash-autoscaler/policy (letters, digits, _ . - and / between levels)."
  }
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

variable "cpu_architecture" {
  description = "CPU architecture of the controller's task: X86_64 or ARM64 (Graviton). The image must be built for it."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
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
  description = "Retention of the CloudWatch log group, in days (one of the values CloudWatch Logs accepts)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
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

variable "iam_path" {
  description = "Path of the two IAM roles (for organisations that group roles by path)."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([^/]+/)*$", var.iam_path))
    error_message = "iam_path must start and end with a slash, for example \"/\" or \"/redash/\"."
  }
}

variable "permissions_boundary_arn" {
  description = "ARN of a managed policy set as the permissions boundary of both roles, where your organisation requires one. null sets none."
  type        = string
  default     = null
}

variable "alarms" {
  description = "CloudWatch alarms on the controller's own health: no running task, and error lines in its log (CloudWatch Logs only: with datadog set, use deploy/terraform/datadog's monitors instead). actions are SNS topic ARNs notified on alarm and on recovery; error_lines_per_5m is how many error lines in each of two 5-minute periods raise the error alarm."
  type = object({
    enabled            = optional(bool, true)
    actions            = optional(list(string), [])
    error_lines_per_5m = optional(number, 3)
  })
  default = {}
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
