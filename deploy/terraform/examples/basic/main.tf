# The controller beside an existing Redash on ECS. Copy this folder, point the module's `source`
# at this repository (a git source ending in //deploy/terraform, deploy/README.md), write your
# values into a terraform.tfvars (terraform.tfvars.example lists them) and your services into
# policies.yaml, then `terraform init && terraform apply`. It starts in dry-run (dry_run defaults to true): read docs/migration.md before setting
# it to false. It creates an SSM kill-switch parameter, /redash-autoscaler/mode, that pauses every
# service when set to `paused` (kill_switch, enable_execute_command: docs/operations.md#emergency-brakes).
# scripts/check-terraform.sh plans, applies and destroys this very folder against moto's AWS on
# every CI run, and plans it with ECS Exec and a file kill switch.

terraform {
  required_version = ">= 1.5, < 2.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30, < 6.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

variable "region" {
  description = "The region of the Redash cluster."
  type        = string
  default     = "ap-northeast-1"
}

variable "cluster" {
  description = "The ECS cluster that runs Redash."
  type        = string
  default     = "redash"
}

variable "private_subnet_ids" {
  description = "Private subnets with a route to Redis, PostgreSQL and the ECS API."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the controller's task (egress 6379, 5432, 443)."
  type        = list(string)
}

variable "image" {
  description = "The controller's image, pinned by digest: <account>.dkr.ecr.<region>.amazonaws.com/redash-autoscaler@sha256:… (deploy/README.md shows how to push it)."
  type        = string
}

variable "redis_url_parameter" {
  description = "Name of the Parameter Store parameter that holds Redash's Redis URL."
  type        = string
  default     = "/redash/REDASH_REDIS_URL"
}

variable "database_url_parameter" {
  description = "Name of the Parameter Store parameter that holds Redash's database URL."
  type        = string
  default     = "/redash/REDASH_DATABASE_URL"
}

variable "policy_parameter" {
  description = "The Parameter Store parameter that holds the policy (policies.yaml, as a SecureString): the controller reloads a new version within 30 s, no deployment needed. null puts the policy in the task definition instead."
  type        = string
  default     = "/redash-autoscaler/policy"
}

variable "dry_run" {
  description = "Read and decide, change nothing. Set to false one service at a time (docs/migration.md)."
  type        = bool
  default     = true
}

variable "kill_switch" {
  description = "The emergency brake besides `mode: paused` in the policy (docs/operations.md#emergency-brakes): \"parameter\" (an SSM parameter, /redash-autoscaler/mode, written with aws ssm put-parameter), \"file\" (a file in each task, written through ECS Exec; needs enable_execute_command) or \"none\"."
  type        = string
  default     = "parameter"

  validation {
    condition     = contains(["parameter", "file", "none"], var.kill_switch)
    error_message = "kill_switch must be parameter, file or none."
  }
}

variable "enable_execute_command" {
  description = "ECS Exec into the controller's tasks: to write the kill-switch file, or to look around during an incident."
  type        = bool
  default     = false
}

variable "metrics_listen_address" {
  description = "Where the controller's endpoints listen in its task: 0.0.0.0, so that a Prometheus outside the task can read /metrics on port 8080 (security_group_ids must then allow that ingress), or 127.0.0.1 when only the container health check and sidecars read them."
  type        = string
  default     = "0.0.0.0"
}

variable "alarm_topic_arns" {
  description = "SNS topics the controller's own alarms notify."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default = {
    Service = "redash"
    Owner   = "sre"
  }
}

# Redash's own connection strings, already in Parameter Store for the Redash services.
data "aws_ssm_parameter" "redis_url" {
  name            = var.redis_url_parameter
  with_decryption = false
}

data "aws_ssm_parameter" "database_url" {
  name            = var.database_url_parameter
  with_decryption = false
}

module "redash_autoscaler" {
  # In your copy: "git::https://<host>/<owner>/redash-autoscaler.git//deploy/terraform?ref=v0.1.0"
  source = "../.."

  cluster_name = var.cluster
  # The services it sizes, and so the services its role covers, are the policy's.
  policy_yaml = file("${path.module}/policies.yaml")
  # Terraform writes policies.yaml as a new version of the parameter on every apply, which the
  # running controller reloads (docs/operations.md); add terraform_owns_value = false to edit
  # it with aws ssm put-parameter instead.
  policy_parameter           = var.policy_parameter == null ? null : { name = var.policy_parameter }
  subnet_ids                 = var.private_subnet_ids
  security_group_ids         = var.security_group_ids
  image                      = var.image
  redis_url_parameter_arn    = data.aws_ssm_parameter.redis_url.arn
  database_url_parameter_arn = data.aws_ssm_parameter.database_url.arn
  dry_run                    = var.dry_run
  # The policy's `killSwitch: ${REDASH_AUTOSCALER_KILL_SWITCH:-}` reads whichever is set.
  kill_switch_parameter  = var.kill_switch == "parameter" ? { name = "/redash-autoscaler/mode" } : null
  kill_switch_file       = var.kill_switch == "file" ? "/run/redash-autoscaler/mode" : null
  enable_execute_command = var.enable_execute_command
  metrics_listen_address = var.metrics_listen_address
  alarms                 = { actions = var.alarm_topic_arns }
  tags                   = var.tags
}

output "managed_services" {
  value = module.redash_autoscaler.managed_services
}

output "task_role_policy" {
  value = module.redash_autoscaler.task_role_policy_json
}

output "policy_parameter_arn" {
  value = module.redash_autoscaler.policy_parameter_arn
}

output "dry_run_policy" {
  value = module.redash_autoscaler.dry_run_policy_json
}

output "kill_switch" {
  value = module.redash_autoscaler.kill_switch
}

output "kill_switch_parameter_arn" {
  value = module.redash_autoscaler.kill_switch_parameter_arn
}

output "operator_brakes_policy" {
  value = module.redash_autoscaler.operator_brakes_policy_json
}
