terraform {
  required_version = ">= 1.5, < 2.0"
  required_providers {
    datadog = {
      source  = "DataDog/datadog"
      version = ">= 3.30, < 4.0"
    }
  }
}
