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
  description = "Port of /, /healthz, /readyz, /metrics, /status (on metrics_listen_address)."
  type        = number
  default     = 8080
}

variable "metrics_listen_address" {
  description = "The address the endpoints (/, /healthz, /readyz, /metrics, /status) bind inside the task. 0.0.0.0 so that a scraper outside the task can reach /metrics, which the security groups must still allow; \"127.0.0.1\" when only the container health check and sidecars in the task read them (the health check asks 127.0.0.1: another address, such as the task's own, would fail it)."
  type        = string
  default     = "0.0.0.0"

  validation {
    condition     = contains(["0.0.0.0", "127.0.0.1"], var.metrics_listen_address)
    error_message = "metrics_listen_address must be 0.0.0.0 (every interface of the task) or 127.0.0.1 (the task only): the container health check asks 127.0.0.1, so any other address fails it."
  }
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
  description = <<-EOT
    Send logs to Datadog through FireLens and metrics through DogStatsD. null keeps CloudWatch Logs and Prometheus only.
    api_key_parameter_arn: the Datadog API key (SSM parameter or secret), needed by the module's log router and agent. site: the Datadog site. service_tag: Datadog's unified `service` of the controller (DD_SERVICE, dd_service, and the `app` tag of its metrics). env, version: DD_ENV and DD_VERSION on the controller and the agent, `env:` and `version:` on its logs and metrics, so that staging and production do not mix (version defaults to the build's own in the log lines). tags: extra tags (team = "sre") as DD_TAGS on both containers, dd_tags on the logs and DogStatsD tags on the metrics.
    log_router: "module" (a Fluent Bit sidecar that parses each JSON line into top-level attributes and sends it to Datadog), "own" (a FireLens router of yours in additional_container_definitions; the controller keeps the module's Datadog output options) or "none" (awslogs to the module's log group, for a Datadog Forwarder or subscription you already run; the error-lines alarm is created then).
    agent: "module" (a Datadog agent sidecar on 127.0.0.1:8125) or "own" (an agent of yours, in additional_container_definitions or elsewhere, at dogstatsd_address).
  EOT
  type = object({
    api_key_parameter_arn = optional(string)
    site                  = optional(string, "datadoghq.com")
    service_tag           = optional(string, "redash-autoscaler")
    env                   = optional(string)
    version               = optional(string)
    tags                  = optional(map(string), {})
    log_router            = optional(string, "module")
    agent                 = optional(string, "module")
    dogstatsd_address     = optional(string, "127.0.0.1:8125")
  })
  default = null

  validation {
    condition     = var.datadog == null || try(contains(["module", "own", "none"], var.datadog.log_router), false)
    error_message = "datadog.log_router must be module, own or none."
  }
  validation {
    condition     = var.datadog == null || try(contains(["module", "own"], var.datadog.agent), false)
    error_message = "datadog.agent must be module or own."
  }
  validation {
    # Datadog tags: no spaces or commas (they separate tags in DD_TAGS and dd_tags), and a
    # key of its own for the Redash services.
    condition = var.datadog == null || alltrue([
      for key, value in try(var.datadog.tags, {}) : can(regex("^[A-Za-z][A-Za-z0-9_./-]*$", key)) && can(regex("^[^ ,]+$", value)) && !contains(["env", "version", "service", "redash_service"], key)
    ])
    error_message = "datadog.tags: keys start with a letter (letters, digits, _ . / -), values have no spaces or commas, and env, version, service and redash_service are set by the module (env, version, service_tag) or the controller."
  }
  validation {
    condition     = var.datadog == null || alltrue([for value in [try(var.datadog.env, null), try(var.datadog.version, null)] : value == null || can(regex("^[^ ,]+$", value))])
    error_message = "datadog.env and datadog.version cannot contain spaces or commas."
  }
}

variable "additional_container_definitions" {
  description = "More containers for the controller's task, each one JSON-encoded container definition (jsonencode({ name = …, image = … })): your own FireLens log router (datadog.log_router = \"own\") or Datadog agent (datadog.agent = \"own\")."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for definition in var.additional_container_definitions : can(jsondecode(definition).name) && can(jsondecode(definition).image)])
    error_message = "Each of additional_container_definitions must be a JSON object with at least name and image."
  }
}

variable "enable_execute_command" {
  description = "ECS Exec into the controller's tasks (aws ecs execute-command), the way to write a kill_switch_file. The task role gets the four ssmmessages actions ECS Exec needs, and writable volumes are mounted where the ECS Exec agent writes (/managed-agents, /var/lib/amazon/ssm, /var/log/amazon/ssm), since the root filesystem stays read-only (docs/operations.md#emergency-brakes)."
  type        = bool
  default     = false
}

variable "kill_switch_file" {
  description = "A file kill switch, such as /run/redash-autoscaler/mode: a writable task volume (Fargate ephemeral storage, one per task, empty at start) is mounted at its directory, and REDASH_AUTOSCALER_KILL_SWITCH is set to the path, which policy_yaml reads with `killSwitch: $${REDASH_AUTOSCALER_KILL_SWITCH:-}`. Write it with ECS Exec (enable_execute_command) in every task, renaming a new file into place (docs/operations.md#emergency-brakes). null: none. Not with kill_switch_parameter: the policy has one killSwitch."
  type        = string
  default     = null

  validation {
    # Its directory becomes a mount point: never one the image needs (/etc holds passwd and
    # the CA certificates, /usr the binary and libraries), never the root.
    condition     = var.kill_switch_file == null || (can(regex("^(/[A-Za-z0-9_.-]+){3,}$", var.kill_switch_file)) && !can(regex("^/(etc|usr|bin|sbin|lib|lib64|proc|sys|dev|boot|managed-agents)/", var.kill_switch_file)) && !can(regex("^/var/(lib|log)/amazon/", var.kill_switch_file)) && !can(regex("/[.][.]?(/|$)", var.kill_switch_file)))
    error_message = "kill_switch_file must be an absolute path at least two directories deep, such as /run/redash-autoscaler/mode, outside /etc, /usr, /bin, /sbin, /lib, /proc, /sys, /dev, /boot and the ECS Exec agent's directories: its directory is mounted over."
  }
}

variable "kill_switch_parameter" {
  description = <<-EOT
    An SSM parameter kill switch, read every tick: `aws ssm put-parameter --name NAME --type String --value paused --overwrite` pauses every service from the next tick, `active` (or deleting it) resumes. REDASH_AUTOSCALER_KILL_SWITCH is set to ssm:NAME, which policy_yaml reads with `killSwitch: $${REDASH_AUTOSCALER_KILL_SWITCH:-}`; the task role gets ssm:GetParameter on that one parameter. null: none. Not with kill_switch_file.
    name: a parameter name (/redash-autoscaler/mode) or, with create = false, its ARN. create (default true): make it, a String holding initial_value (default active); later writes by operators are never reverted by an apply. false: reference a parameter managed elsewhere. kms_key_arn: only for an existing SecureString under a customer-managed key; the role may decrypt with it for this parameter only.
  EOT
  type = object({
    name          = string
    create        = optional(bool, true)
    initial_value = optional(string, "active")
    kms_key_arn   = optional(string)
  })
  default = null

  validation {
    condition     = var.kill_switch_parameter == null || can(regex("^(/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*|arn:[a-z-]+:ssm:[a-z0-9-]+:[0-9]{12}:parameter/[A-Za-z0-9_./-]+)$", var.kill_switch_parameter.name))
    error_message = "kill_switch_parameter.name must be a Parameter Store name such as /redash-autoscaler/mode, or the ARN of an existing one."
  }
  validation {
    condition     = var.kill_switch_parameter == null || try(contains(["active", "dry-run", "paused"], var.kill_switch_parameter.initial_value), false)
    error_message = "kill_switch_parameter.initial_value must be active, dry-run or paused (what the controller accepts)."
  }
  validation {
    condition     = var.kill_switch_parameter == null || !(try(var.kill_switch_parameter.create, true) && startswith(try(var.kill_switch_parameter.name, ""), "arn:"))
    error_message = "kill_switch_parameter: give a name, not an ARN, when the module creates the parameter (create = true)."
  }
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
  description = "CloudWatch alarms on the controller's own health: no running task, and error lines in its log (CloudWatch Logs only: when logs go through FireLens, datadog.log_router module or own, use deploy/terraform/datadog's monitors instead). actions are SNS topic ARNs notified on alarm and on recovery; error_lines_per_5m is how many error lines in each of two 5-minute periods raise the error alarm."
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
