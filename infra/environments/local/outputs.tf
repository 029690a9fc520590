output "input_bucket_name" {
  description = "ANEMONEFISH_INPUT_BUCKET."
  value       = module.storage.input_bucket_name
}

output "output_bucket_name" {
  description = "ANEMONEFISH_OUTPUT_BUCKET."
  value       = module.storage.output_bucket_name
}

output "jobs_table_name" {
  description = "ANEMONEFISH_JOBS_TABLE."
  value       = module.jobs_table.table_name
}

output "jobs_queue_url" {
  description = "ANEMONEFISH_JOBS_QUEUE_URL."
  value       = module.queue.queue_url
}

output "dlq_url" {
  description = "ANEMONEFISH_DLQ_URL."
  value       = module.queue.dlq_url
}

output "topic_arn" {
  description = "ANEMONEFISH_TOPIC_ARN."
  value       = module.notifications.topic_arn
}

output "webhooks_queue_url" {
  description = "ANEMONEFISH_WEBHOOKS_QUEUE_URL."
  value       = module.webhook_queue.queue_url
}

output "app_environment" {
  description = "Environment variables for the local stack's API and worker (same names as in the Lambdas)."
  value = {
    ANEMONEFISH_ENV                = local.environment
    ANEMONEFISH_AWS_ENDPOINT_URL   = var.aws_endpoint_url
    ANEMONEFISH_INPUT_BUCKET       = module.storage.input_bucket_name
    ANEMONEFISH_OUTPUT_BUCKET      = module.storage.output_bucket_name
    ANEMONEFISH_JOBS_TABLE         = module.jobs_table.table_name
    ANEMONEFISH_JOBS_QUEUE_URL     = module.queue.queue_url
    ANEMONEFISH_DLQ_URL            = module.queue.dlq_url
    ANEMONEFISH_WEBHOOKS_QUEUE_URL = module.webhook_queue.queue_url
    ANEMONEFISH_TOPIC_ARN          = module.notifications.topic_arn
    ANEMONEFISH_CORS_ORIGINS       = join(",", var.cors_origins)
    AWS_REGION                     = var.region

    ANEMONEFISH_JOBS_QUEUE_RETENTION_S = tostring(module.queue.message_retention_seconds)
  }
}
