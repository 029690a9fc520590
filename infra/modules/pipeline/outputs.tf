output "api_url" {
  description = "Base URL of the jobs API."
  value       = module.api.invoke_url
}

output "api_key_ids" {
  description = "API key ids by tenant (aws apigateway get-api-key --api-key ID --include-value)."
  value       = module.api.api_key_ids
}

output "console_url" {
  description = "URL of the browser console."
  value       = module.console.origin
}

output "console_bucket_name" {
  description = "Bucket to upload the console's static files to."
  value       = module.console.bucket_name
}

output "console_distribution_id" {
  description = "CloudFront distribution of the console (invalidate after uploading files)."
  value       = module.console.distribution_id
}

output "repository_urls" {
  description = "ECR repositories by image (worker, api)."
  value       = module.registry.repository_urls
}

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
  description = "ANEMONEFISH_TOPIC_ARN: subscribe to hear of finished jobs."
  value       = module.notifications.topic_arn
}

output "alarm_topic_arn" {
  description = "Topic notified by the alarms."
  value       = module.monitoring.alarm_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.monitoring.dashboard_name
}

output "function_names" {
  description = "Lambda function names (api, worker, dlq)."
  value       = module.functions.function_names
}

output "function_setting_names" {
  description = "Environment variables (settings) each function gets, by function role."
  value       = module.functions.environment_variable_names
}
