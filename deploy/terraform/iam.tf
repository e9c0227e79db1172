data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  arn_prefix   = "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  cluster_arn  = "${local.arn_prefix}:cluster/${var.cluster_name}"
  service_arns = [for service in var.managed_services : "${local.arn_prefix}:service/${var.cluster_name}/${service}"]
  task_arns    = "${local.arn_prefix}:task/${var.cluster_name}/*"
  secret_arns  = compact([var.redis_url_parameter_arn, var.database_url_parameter_arn, try(var.datadog.api_key_parameter_arn, null)])
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
# controller-policy.json.tftpl, the same file the tests load into moto, so the permissions and
# the code cannot drift apart.
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "task" {
  name = "${var.name}-scale-redash-services"
  role = aws_iam_role.task.id
  policy = templatefile("${path.module}/../iam/controller-policy.json.tftpl", {
    service_arns = jsonencode(local.service_arns)
    cluster_arn  = local.cluster_arn
    task_arns    = local.task_arns
  })
}

# The execution role: ECS pulls the image, writes logs and reads the secrets for the task.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = var.tags
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
