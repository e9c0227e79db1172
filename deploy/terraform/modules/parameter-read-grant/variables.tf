variable "name" {
  description = "Name of the inline policy on the role, such as redash-autoscaler-read-policy-parameter."
  type        = string
}

variable "role" {
  description = "The role that reads the parameter (the controller's task role)."
  type        = string
}

variable "read_policy_template" {
  description = "Path of the deploy/iam template that grants ssm:GetParameter on its parameter_arn."
  type        = string
}

variable "parameter_arn" {
  description = "ARN of the parameter: the template's one resource, and the only encryption context the key may decrypt for."
  type        = string
}

variable "kms_key_arn" {
  description = "A customer-managed key that encrypts the parameter; null for none or the AWS-managed aws/ssm key (no grant needed)."
  type        = string
  default     = null
}

variable "decrypt_sid" {
  description = "Sid of the kms:Decrypt statement, beside the template's own Read…Parameter Sid."
  type        = string
}

variable "region" {
  description = "The region whose Parameter Store the controller calls (kms:ViaService)."
  type        = string
}
