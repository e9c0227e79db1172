# The policy in SSM Parameter Store (var.policy_parameter): the controller runs with
# `--policies ssm:NAME`, reads the parameter every 30 s and applies a new version without a
# deployment (docs/policies.md, docs/operations.md). The task role may read that one parameter.

locals {
  policy_in_ssm         = var.policy_parameter != null
  policy_parameter_name = local.policy_in_ssm ? var.policy_parameter.name : null
  policy_parameter_arn  = local.policy_in_ssm ? "${local.ssm_parameter_arn_prefix}${trimprefix(var.policy_parameter.name, "/")}" : null
  policy_flags          = local.policy_in_ssm ? ["--policies", "ssm:${var.policy_parameter.name}"] : []
  # Parameter Store's standard tier holds 4 KB; above that the parameter must be advanced.
  policy_parameter_tier   = length(var.policy_yaml) > 4096 ? "Advanced" : "Standard"
  create_policy_parameter = local.policy_in_ssm ? var.policy_parameter.create : false
  policy_kms_key_arn      = local.policy_in_ssm ? var.policy_parameter.kms_key_arn : null
}

# Terraform owns the value: edit policy_yaml and apply; the running controller picks the new
# version up within 30 s, and no task is replaced.
resource "aws_ssm_parameter" "policy" {
  count       = local.create_policy_parameter && try(var.policy_parameter.terraform_owns_value, true) ? 1 : 0
  name        = var.policy_parameter.name
  description = "The redash-autoscaler policy (policies.yaml) that ${var.name} reads and reloads."
  type        = "SecureString"
  key_id      = local.policy_kms_key_arn
  tier        = local.policy_parameter_tier
  value       = var.policy_yaml
  tags        = var.tags
}

# Terraform writes the first value only; later versions come from
# `aws ssm put-parameter --overwrite` and a later apply leaves them alone.
resource "aws_ssm_parameter" "policy_seeded" {
  count       = local.create_policy_parameter && !try(var.policy_parameter.terraform_owns_value, true) ? 1 : 0
  name        = var.policy_parameter.name
  description = "The redash-autoscaler policy (policies.yaml) that ${var.name} reads and reloads; edited with aws ssm put-parameter."
  type        = "SecureString"
  key_id      = local.policy_kms_key_arn
  tier        = local.policy_parameter_tier
  value       = var.policy_yaml
  tags        = var.tags

  lifecycle {
    ignore_changes = [value, tier]
  }
}

# Exactly ssm:GetParameter on the one parameter (deploy/iam/policy-parameter-policy.json.tftpl,
# the document the tests load into moto), and kms:Decrypt on its customer-managed key for it
# only: modules/parameter-read-grant, as for the kill-switch parameter.
module "read_policy_parameter" {
  source               = "./modules/parameter-read-grant"
  count                = local.policy_in_ssm ? 1 : 0
  name                 = "${var.name}-read-policy-parameter"
  role                 = aws_iam_role.task.id
  read_policy_template = "${path.module}/../iam/policy-parameter-policy.json.tftpl"
  parameter_arn        = local.policy_parameter_arn
  kms_key_arn          = local.policy_kms_key_arn
  decrypt_sid          = "DecryptThePolicyParameter"
  region               = data.aws_region.current.name
}

# Its address before the grant was one module: a deployment made then keeps its inline policy.
moved {
  from = aws_iam_role_policy.read_policy_parameter[0]
  to   = module.read_policy_parameter[0].aws_iam_role_policy.this
}
