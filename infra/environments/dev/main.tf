# dev: cheap and open for trying things; short retention, mutable tags, throwaway buckets.
module "pipeline" {
  source = "../../modules/pipeline"

  environment        = "dev"
  account_id         = var.account_id
  region             = var.region
  bucket_name_suffix = var.bucket_name_suffix

  worker_image_uri     = var.worker_image_uri
  api_image_uri        = var.api_image_uri
  image_tag_mutability = "MUTABLE"

  api_key_required     = var.api_key_required
  api_key_names        = var.api_key_names
  static_api_keys      = var.static_api_keys
  throttle_rate_limit  = 10
  throttle_burst_limit = 20
  quota_limit          = 10000
  cors_origins         = var.cors_origins

  log_retention_days     = var.log_retention_days
  input_expiration_days  = 3
  result_expiration_days = 30

  worker_reserved_concurrency = 4
  worker_batch_size           = 1
  worker_maximum_concurrency  = 4
  worker_memory_mb            = var.worker_memory_mb
  worker_ephemeral_storage_mb = var.worker_ephemeral_storage_mb
  api_memory_mb               = var.api_memory_mb
  api_timeout_seconds         = var.api_timeout_seconds
  api_reserved_concurrency    = var.api_reserved_concurrency
  dlq_memory_mb               = var.dlq_memory_mb
  dlq_batch_size              = var.dlq_batch_size
  dlq_reserved_concurrency    = var.dlq_reserved_concurrency
  sweeper_timeout_seconds     = var.sweeper_timeout_seconds
  worker_timeout_seconds      = var.worker_timeout_seconds
  dlq_timeout_seconds         = var.dlq_timeout_seconds

  console_static_dir    = "${path.root}/../../../services/anemonefish_services/console/static"
  webhook_secret        = var.webhook_secret
  app_settings          = var.app_settings
  alarm_email_addresses = var.alarm_email_addresses

  manage_api_gateway_account_role = var.manage_api_gateway_account_role

  deletion_protection = false
  force_destroy       = true

  tags = {
    Project     = "anemonefish"
    Environment = "dev"
    ManagedBy   = "terraform"
  }
}
