# The controller beside an existing Redash on ECS. Replace the values in locals with yours, then
# `terraform init && terraform apply`. It starts in dry-run (var.dry_run defaults to true): read
# docs/migration.md before setting it to false.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30"
    }
  }
}

provider "aws" {
  region = "ap-northeast-1"
}

locals {
  cluster            = "redash"
  private_subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  security_group_ids = ["sg-0123456789abcdef0"]
  image              = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/redash-autoscaler@sha256:0000000000000000000000000000000000000000000000000000000000000000"
}

# Redash's own connection strings, already in Parameter Store for the Redash services.
data "aws_ssm_parameter" "redis_url" {
  name            = "/redash/REDASH_REDIS_URL"
  with_decryption = false
}

data "aws_ssm_parameter" "database_url" {
  name            = "/redash/REDASH_DATABASE_URL"
  with_decryption = false
}

module "redash_autoscaler" {
  source = "../.."

  cluster_name               = local.cluster
  managed_services           = ["redash-adhoc-worker", "redash-scheduled-worker"]
  subnet_ids                 = local.private_subnet_ids
  security_group_ids         = local.security_group_ids
  image                      = local.image
  policy_yaml                = file("${path.module}/policies.yaml")
  redis_url_parameter_arn    = data.aws_ssm_parameter.redis_url.arn
  database_url_parameter_arn = data.aws_ssm_parameter.database_url.arn
  dry_run                    = true

  tags = {
    Service = "redash"
    Owner   = "sre"
  }
}

output "task_role_policy" {
  value = module.redash_autoscaler.task_role_policy_json
}
