terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 6.0"
    }
  }

  # State stays local unless a backend_override.tf (git-ignored) or -backend-config names a
  # remote backend; see docs/deploy.md.
}
