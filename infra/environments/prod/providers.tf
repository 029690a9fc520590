provider "aws" {
  region = var.region

  # A real deployment refuses to run against any account but var.account_id. An offline plan
  # (CI, fake credentials, no network) skips every call the provider would make to AWS.
  allowed_account_ids         = var.offline_plan ? null : [var.account_id]
  skip_requesting_account_id  = var.offline_plan
  skip_credentials_validation = var.offline_plan
  skip_metadata_api_check     = var.offline_plan
  skip_region_validation      = var.offline_plan
}
