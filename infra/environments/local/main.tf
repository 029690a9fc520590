# local: the data plane of the pipeline on the local AWS emulator. The emulator runs no
# Lambdas and no API Gateway, so functions, api, monitoring, registry and console are left
# out; the local stack runs the same handler code against these resources instead.
locals {
  environment = "local"
  name_prefix = "anemonefish-${local.environment}"
  partition   = data.aws_partition.current.partition

  input_bucket_name   = "${local.name_prefix}-input"
  output_bucket_name  = "${local.name_prefix}-output"
  jobs_table_name     = "${local.name_prefix}-jobs"
  jobs_queue_name     = "${local.name_prefix}-jobs"
  webhooks_queue_name = "${local.name_prefix}-webhooks"
  topic_name          = "${local.name_prefix}-job-events"

  tags = {
    Project     = "anemonefish"
    Environment = local.environment
    ManagedBy   = "terraform"
  }
}

data "aws_partition" "current" {}

module "kms" {
  source = "../../modules/kms"

  name_prefix             = local.name_prefix
  account_id              = var.account_id
  region                  = var.region
  deletion_window_in_days = 7
  tags                    = local.tags
}

module "queue" {
  source = "../../modules/queue"

  queue_name        = local.jobs_queue_name
  account_id        = var.account_id
  region            = var.region
  source_bucket_arn = "arn:${local.partition}:s3:::${local.input_bucket_name}"
  kms_key_arn       = module.kms.key_arn
  # moto does not report RedriveAllowPolicy back, so the provider would wait forever.
  restrict_dlq_sources = false
  tags                 = local.tags
}

module "webhook_queue" {
  source = "../../modules/queue"

  queue_name               = local.webhooks_queue_name
  purpose                  = "webhooks-queue"
  account_id               = var.account_id
  region                   = var.region
  kms_key_arn              = module.kms.key_arn
  consumer_timeout_seconds = 60 # the webhook sender's (modules/functions)
  # moto does not report RedriveAllowPolicy back, so the provider would wait forever.
  restrict_dlq_sources = false
  tags                 = local.tags
}

module "storage" {
  source = "../../modules/storage"

  input_bucket_name    = local.input_bucket_name
  output_bucket_name   = local.output_bucket_name
  kms_key_arn          = module.kms.key_arn
  jobs_queue_arn       = module.queue.queue_arn
  cors_allowed_origins = var.cors_origins
  force_destroy        = true
  # moto speaks plain HTTP and does evaluate bucket policies: the TLS-only deny would refuse
  # every request. dev and prod always enforce TLS (compliance/buckets.feature).
  enforce_tls = false
  tags        = local.tags
}

module "jobs_table" {
  source = "../../modules/jobs_table"

  table_name  = local.jobs_table_name
  kms_key_arn = module.kms.key_arn
  tags        = local.tags
}

module "notifications" {
  source = "../../modules/notifications"

  topic_name  = local.topic_name
  account_id  = var.account_id
  kms_key_arn = module.kms.key_arn
  tags        = local.tags
}
