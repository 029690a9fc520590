# Everything goes to the local AWS emulator (moto server). Credentials are the emulator's
# dummies, given through AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (see docs/deploy.md).
provider "aws" {
  region = var.region

  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    dynamodb = var.aws_endpoint_url
    iam      = var.aws_endpoint_url
    kms      = var.aws_endpoint_url
    s3       = var.aws_endpoint_url
    sns      = var.aws_endpoint_url
    sqs      = var.aws_endpoint_url
    sts      = var.aws_endpoint_url
  }
}
