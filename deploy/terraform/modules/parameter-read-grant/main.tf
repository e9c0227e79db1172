# One SSM parameter the controller reads, granted on its task role: exactly ssm:GetParameter on
# that parameter (the document in deploy/iam that scripts/check-iam.sh and the tests evaluate
# against the controller's requests), and kms:Decrypt on a customer-managed key only for that
# parameter, through Parameter Store. The AWS-managed aws/ssm key needs no grant. The policy
# parameter and the kill-switch parameter are both read this way.

data "aws_iam_policy_document" "this" {
  source_policy_documents = [templatefile(var.read_policy_template, { parameter_arn = var.parameter_arn })]

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = var.decrypt_sid
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${var.region}.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:PARAMETER_ARN"
        values   = [var.parameter_arn]
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.name
  role   = var.role
  policy = data.aws_iam_policy_document.this.json
}
