terraform {
  # Checked with Terraform 1.11 and hashicorp/aws 5.100 (scripts/check-terraform.sh). The upper
  # bounds keep a major release that changes resource schemas from arriving unannounced.
  required_version = ">= 1.5, < 2.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30, < 6.0"
    }
  }
}
