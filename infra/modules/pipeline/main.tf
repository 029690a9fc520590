# The whole pipeline of one AWS environment (dev, prod): the environments only choose values.
locals {
  name_prefix = "${var.project}-${var.environment}"
  partition   = data.aws_partition.current.partition

  # Names fixed by docs/architecture.md (the suffix only makes bucket names globally unique).
  input_bucket_name   = "${local.name_prefix}-input${var.bucket_name_suffix}"
  output_bucket_name  = "${local.name_prefix}-output${var.bucket_name_suffix}"
  jobs_table_name     = "${local.name_prefix}-jobs"
  jobs_queue_name     = "${local.name_prefix}-jobs"
  webhooks_queue_name = "${local.name_prefix}-webhooks"
  topic_name          = "${local.name_prefix}-job-events"

  cors_origins = distinct(concat(var.cors_origins, [module.console.origin]))
}

data "aws_partition" "current" {}

module "kms" {
  source = "../kms"

  name_prefix = local.name_prefix
  account_id  = var.account_id
  region      = var.region
  tags        = var.tags
}

module "registry" {
  source = "../registry"

  name_prefix          = local.name_prefix
  image_tag_mutability = var.image_tag_mutability
  force_delete         = var.force_destroy
  tags                 = var.tags
}

module "queue" {
  source = "../queue"

  queue_name                   = local.jobs_queue_name
  account_id                   = var.account_id
  region                       = var.region
  source_bucket_arn            = "arn:${local.partition}:s3:::${local.input_bucket_name}"
  kms_key_arn                  = module.kms.key_arn
  consumer_timeout_seconds     = var.worker_timeout_seconds
  dlq_consumer_timeout_seconds = var.dlq_timeout_seconds
  max_receive_count            = var.max_receive_count
  tags                         = var.tags
}

module "storage" {
  source = "../storage"

  input_bucket_name      = local.input_bucket_name
  output_bucket_name     = local.output_bucket_name
  kms_key_arn            = module.kms.key_arn
  jobs_queue_arn         = module.queue.queue_arn
  input_expiration_days  = var.input_expiration_days
  result_expiration_days = var.result_expiration_days
  cors_allowed_origins   = local.cors_origins
  force_destroy          = var.force_destroy
  tags                   = var.tags
}

# Webhooks queued when jobs end; a delivery that keeps failing is kept in its DLQ.
module "webhook_queue" {
  source = "../queue"

  queue_name               = local.webhooks_queue_name
  purpose                  = "webhooks-queue"
  account_id               = var.account_id
  region                   = var.region
  kms_key_arn              = module.kms.key_arn
  consumer_timeout_seconds = var.webhook_sender_timeout_seconds
  tags                     = var.tags
}

module "jobs_table" {
  source = "../jobs_table"

  table_name          = local.jobs_table_name
  kms_key_arn         = module.kms.key_arn
  deletion_protection = var.deletion_protection
  tags                = var.tags
}

module "notifications" {
  source = "../notifications"

  topic_name  = local.topic_name
  account_id  = var.account_id
  kms_key_arn = module.kms.key_arn
  tags        = var.tags
}

module "functions" {
  source = "../functions"

  name_prefix                         = local.name_prefix
  environment                         = var.environment
  account_id                          = var.account_id
  region                              = var.region
  worker_image_uri                    = var.worker_image_uri
  api_image_uri                       = var.api_image_uri
  worker_timeout_seconds              = var.worker_timeout_seconds
  dlq_timeout_seconds                 = var.dlq_timeout_seconds
  worker_memory_mb                    = var.worker_memory_mb
  worker_ephemeral_storage_mb         = var.worker_ephemeral_storage_mb
  api_memory_mb                       = var.api_memory_mb
  api_timeout_seconds                 = var.api_timeout_seconds
  api_reserved_concurrency            = var.api_reserved_concurrency
  dlq_memory_mb                       = var.dlq_memory_mb
  dlq_batch_size                      = var.dlq_batch_size
  dlq_reserved_concurrency            = var.dlq_reserved_concurrency
  sweeper_timeout_seconds             = var.sweeper_timeout_seconds
  worker_reserved_concurrency         = var.worker_reserved_concurrency
  worker_batch_size                   = var.worker_batch_size
  worker_maximum_concurrency          = var.worker_maximum_concurrency
  log_retention_days                  = var.log_retention_days
  kms_key_arn                         = module.kms.key_arn
  input_bucket_name                   = module.storage.input_bucket_name
  input_bucket_arn                    = module.storage.input_bucket_arn
  output_bucket_name                  = module.storage.output_bucket_name
  output_bucket_arn                   = module.storage.output_bucket_arn
  upload_prefix                       = module.storage.upload_prefix
  result_prefix                       = module.storage.result_prefix
  jobs_table_name                     = module.jobs_table.table_name
  jobs_table_arn                      = module.jobs_table.table_arn
  jobs_listing_index_arn              = module.jobs_table.listing_index_arn
  jobs_open_index_arn                 = module.jobs_table.open_index_arn
  jobs_queue_arn                      = module.queue.queue_arn
  jobs_queue_url                      = module.queue.queue_url
  dlq_arn                             = module.queue.dlq_arn
  dlq_url                             = module.queue.dlq_url
  topic_arn                           = module.notifications.topic_arn
  webhooks_queue_arn                  = module.webhook_queue.queue_arn
  webhooks_queue_url                  = module.webhook_queue.queue_url
  webhook_sender_timeout_seconds      = var.webhook_sender_timeout_seconds
  webhook_sender_reserved_concurrency = var.webhook_sender_reserved_concurrency
  auth_mode                           = var.api_key_required ? "apigateway" : "static"
  static_api_keys                     = var.static_api_keys
  cors_origins                        = local.cors_origins
  webhook_secret                      = var.webhook_secret
  app_settings                        = var.app_settings
  tags                                = var.tags

  # A job's results are reachable only through its record: it lives as long as they do.
  job_ttl_days                 = var.result_expiration_days
  jobs_queue_retention_seconds = module.queue.message_retention_seconds
}

module "api" {
  source = "../api"

  name_prefix                 = local.name_prefix
  api_function_name           = module.functions.api_function_name
  api_invoke_arn              = module.functions.api_invoke_arn
  api_key_required            = var.api_key_required
  api_key_names               = var.api_key_names
  throttle_rate_limit         = var.throttle_rate_limit
  throttle_burst_limit        = var.throttle_burst_limit
  quota_limit                 = var.quota_limit
  gateway_response_origin     = module.console.origin
  manage_account_logging_role = var.manage_api_gateway_account_role
  account_logging_project     = var.project
  log_retention_days          = var.log_retention_days
  kms_key_arn                 = module.kms.key_arn
  tags                        = var.tags
}

module "monitoring" {
  source = "../monitoring"

  name_prefix                  = local.name_prefix
  region                       = var.region
  kms_key_arn                  = module.kms.key_arn
  jobs_queue_name              = module.queue.queue_name
  dlq_name                     = module.queue.dlq_name
  worker_function_name         = module.functions.worker_function_name
  dlq_function_name            = module.functions.function_names["dlq"]
  sweeper_function_name        = module.functions.function_names["sweeper"]
  webhooks_dlq_name            = module.webhook_queue.dlq_name
  webhook_sender_function_name = module.functions.function_names["webhooks"]
  api_function_name            = module.functions.api_function_name
  rest_api_name                = module.api.rest_api_name
  api_stage_name               = module.api.stage_name
  alarm_email_addresses        = var.alarm_email_addresses
  tags                         = var.tags
}

module "console" {
  source = "../console"

  name_prefix        = local.name_prefix
  bucket_name_suffix = var.bucket_name_suffix
  account_id         = var.account_id
  static_dir         = var.console_static_dir
  api_base_url       = module.api.invoke_url
  force_destroy      = var.force_destroy
  tags               = var.tags
}
