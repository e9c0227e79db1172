data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # The services the controller sizes are the policy's own, so the role can never name fewer (a
  # service the role does not cover gets AccessDenied on every batched DescribeServices) or more.
  policy           = yamldecode(var.policy_yaml)
  managed_services = sort(keys(local.policy.services))
  policy_cluster   = tostring(try(local.policy.cluster, ""))

  arn_prefix   = "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  cluster_arn  = "${local.arn_prefix}:cluster/${var.cluster_name}"
  service_arns = [for service in local.managed_services : "${local.arn_prefix}:service/${var.cluster_name}/${service}"]
  task_arns    = "${local.arn_prefix}:task/${var.cluster_name}/*"
  secret_arns  = compact([var.redis_url_parameter_arn, var.database_url_parameter_arn, try(var.datadog.api_key_parameter_arn, null)])

  # A parameter's ARN is this and its name without the leading slash (parameter/NAME, never
  # parameter//NAME): GetParameter takes the name, IAM checks the ARN.
  ssm_parameter_arn_prefix = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter/"

  # Both documents take the same three values; the tests render them the same way
  # (scripts/render-iam-policy.sh).
  iam_template_values = {
    service_arns = jsonencode(local.service_arns)
    cluster_arn  = local.cluster_arn
    task_arns    = local.task_arns
  }
}

data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# The task role: what the controller itself may do. The document is deploy/iam/
# controller-policy.json.tftpl, the same file the tests load into moto and evaluate against the
# requests the controller really sends (scripts/check-iam.sh).
resource "aws_iam_role" "task" {
  name                 = "${var.name}-task"
  path                 = var.iam_path
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy   = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags                 = var.tags

  lifecycle {
    precondition {
      # A literal cluster in the policy must be this one. A variable (the shipped policies say
      # cluster: ${REDASH_ECS_CLUSTER:-redash}) is fine: the task sets REDASH_ECS_CLUSTER to
      # cluster_name.
      condition     = length(regexall("[$][{]", local.policy_cluster)) > 0 || local.policy_cluster == var.cluster_name
      error_message = "The policy names the cluster ${local.policy_cluster}, not cluster_name (${var.cluster_name}): the role would cover the wrong cluster. Name the same cluster, or use the REDASH_ECS_CLUSTER variable as the shipped policies do."
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "${var.name}-scale-redash-services"
  role   = aws_iam_role.task.id
  policy = templatefile("${path.module}/../iam/controller-policy.json.tftpl", local.iam_template_values)
}

# The execution role: ECS pulls the image, writes logs and reads the secrets for the task.
resource "aws_iam_role" "execution" {
  name                 = "${var.name}-execution"
  path                 = var.iam_path
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy   = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "read_secrets" {
  statement {
    sid       = "ReadTheControllersSecrets"
    actions   = ["ssm:GetParameters", "secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }
  dynamic "statement" {
    for_each = var.secrets_kms_key_arn == null ? [] : [var.secrets_kms_key_arn]
    content {
      sid       = "DecryptTheControllersSecrets"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "read_secrets" {
  name   = "${var.name}-read-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.read_secrets.json
}
