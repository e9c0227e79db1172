# The emergency brakes an operator pulls while the controller runs (docs/operations.md#emergency-brakes):
# a kill switch, either a file on a writable task volume (written through ECS Exec) or an SSM
# parameter (written with aws ssm put-parameter), and ECS Exec itself. The policy's one
# `killSwitch:` key reads REDASH_AUTOSCALER_KILL_SWITCH, which the task definition sets to the
# switch configured here, so the module and the policy cannot name different switches.

locals {
  kill_switch_in_file      = var.kill_switch_file != null
  kill_switch_in_parameter = var.kill_switch_parameter != null

  # An ARN is kept as it is (GetParameter takes either); a name becomes the ARN IAM checks.
  kill_switch_parameter_arn = !local.kill_switch_in_parameter ? null : (
    startswith(var.kill_switch_parameter.name, "arn:") ? var.kill_switch_parameter.name : "${local.ssm_parameter_arn_prefix}${trimprefix(var.kill_switch_parameter.name, "/")}"
  )
  kill_switch_parameter_name = local.kill_switch_in_parameter ? var.kill_switch_parameter.name : null
  kill_switch_kms_key_arn    = local.kill_switch_in_parameter ? var.kill_switch_parameter.kms_key_arn : null

  # What the controller reads: TextLocation's syntax (a path, or ssm: and a name or an ARN).
  kill_switch_location = local.kill_switch_in_parameter ? "ssm:${var.kill_switch_parameter.name}" : var.kill_switch_file
  # The file's directory is the mount point: the file itself does not exist until written, and
  # an absent file asks for nothing.
  kill_switch_directory = local.kill_switch_in_file ? regex("^(.*)/[^/]+$", var.kill_switch_file)[0] : null

  # The policy's own killSwitch, as written (null when absent or empty).
  policy_kill_switch      = try(trimspace(tostring(local.policy.killSwitch)), "") == "" ? null : trimspace(tostring(local.policy.killSwitch))
  policy_kill_switch_env  = local.policy_kill_switch != null && length(regexall("[$][{]REDASH_AUTOSCALER_KILL_SWITCH([:]-[^}]*)?[}]", coalesce(local.policy_kill_switch, "-"))) > 0
  policy_kill_switch_safe = local.policy_kill_switch == null || length(regexall("[$][{]REDASH_AUTOSCALER_KILL_SWITCH[:]-", coalesce(local.policy_kill_switch, "-"))) > 0
  # The policy reads the switch the module made: through the variable, or naming it literally.
  policy_reads_kill_switch = local.policy_kill_switch_env || contains(compact([
    local.kill_switch_location, local.kill_switch_in_file ? "file:${coalesce(var.kill_switch_file, "-")}" : null,
    local.kill_switch_in_parameter ? "ssm:${coalesce(local.kill_switch_parameter_arn, "-")}" : null,
  ]), coalesce(local.policy_kill_switch, "-"))

  # ECS Exec's managed agent writes below these directories; with a read-only root filesystem
  # they must be writable volumes (docs/operations.md#emergency-brakes says what is known of this).
  execute_command_directories = var.enable_execute_command ? {
    "ecs-exec-managed-agents" = "/managed-agents"
    "ecs-exec-ssm-state"      = "/var/lib/amazon/ssm"
    "ecs-exec-ssm-logs"       = "/var/log/amazon/ssm"
  } : {}
  controller_volumes = merge(local.execute_command_directories, local.kill_switch_in_file ? { "kill-switch" = local.kill_switch_directory } : {})
}

# Terraform writes the first value only: an operator's `aws ssm put-parameter --overwrite` is the
# brake, and an apply must never release it.
resource "aws_ssm_parameter" "kill_switch" {
  # checkov:skip=CKV2_AWS_34: one word (active, dry-run or paused), no secret; a String needs no KMS rights of the operator who pulls the brake during an incident
  count       = local.kill_switch_in_parameter && try(var.kill_switch_parameter.create, false) ? 1 : 0
  name        = var.kill_switch_parameter.name
  description = "Kill switch of ${var.name}: active, dry-run or paused for every Redash service it sizes, read every tick (docs/operations.md#emergency-brakes)."
  # Not a secret: one word that operators write and read back during an incident.
  type  = "String"
  value = var.kill_switch_parameter.initial_value
  tags  = var.tags

  lifecycle {
    ignore_changes = [value]
  }
}

# Exactly ssm:GetParameter on the one parameter (deploy/iam/kill-switch-parameter-policy.json.tftpl,
# the document scripts/check-iam.sh evaluates against the controller's recorded requests), and
# kms:Decrypt on its customer-managed key for it only: modules/parameter-read-grant, as for the
# policy parameter.
module "read_kill_switch_parameter" {
  source               = "./modules/parameter-read-grant"
  count                = local.kill_switch_in_parameter ? 1 : 0
  name                 = "${var.name}-read-kill-switch-parameter"
  role                 = aws_iam_role.task.id
  read_policy_template = "${path.module}/../iam/kill-switch-parameter-policy.json.tftpl"
  parameter_arn        = local.kill_switch_parameter_arn
  kms_key_arn          = local.kill_switch_kms_key_arn
  decrypt_sid          = "DecryptTheKillSwitchParameter"
  region               = data.aws_region.current.name
}

# Its address before the grant was one module: a deployment made then keeps its inline policy.
moved {
  from = aws_iam_role_policy.read_kill_switch_parameter[0]
  to   = module.read_kill_switch_parameter[0].aws_iam_role_policy.this
}

# What ECS Exec needs on the task role: the managed agent opens its channels to Session Manager.
# These actions take no resource (Resource "*"), as AWS documents for ECS Exec.
resource "aws_iam_role_policy" "execute_command" {
  count  = var.enable_execute_command ? 1 : 0
  name   = "${var.name}-ecs-exec"
  role   = aws_iam_role.task.id
  policy = file("${path.module}/../iam/ecs-exec-policy.json")
}

# What an operator needs to pull the brakes this module set up (attach it to the on-call role):
# ECS Exec into the controller container of this cluster's tasks, and writing the kill-switch
# parameter. Only the statements for what is configured.
data "aws_iam_policy_document" "operator_brakes" {
  statement {
    sid       = "FindTheControllersTasks"
    actions   = ["ecs:ListTasks", "ecs:DescribeTasks", "ecs:DescribeServices"]
    resources = ["*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }
  dynamic "statement" {
    for_each = var.enable_execute_command ? [1] : []
    content {
      sid       = "ExecIntoTheController"
      actions   = ["ecs:ExecuteCommand"]
      resources = [local.task_arns]
      condition {
        test     = "StringEquals"
        variable = "ecs:container-name"
        values   = ["controller"]
      }
    }
  }
  dynamic "statement" {
    for_each = local.kill_switch_in_parameter ? [local.kill_switch_parameter_arn] : []
    content {
      sid       = "WriteTheKillSwitch"
      actions   = ["ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter", "ssm:GetParameterHistory"]
      resources = [statement.value]
    }
  }
}
