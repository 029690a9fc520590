output "jobs_queue_arn" {
  description = "ARN of the jobs queue (available once its policy lets the input bucket send)."
  value       = aws_sqs_queue.jobs.arn
  # S3 validates the destination when the notification is written: the policy must exist first.
  depends_on = [aws_sqs_queue_policy.jobs]
}

output "jobs_queue_url" {
  description = "URL of the jobs queue."
  value       = aws_sqs_queue.jobs.id
}

output "jobs_queue_name" {
  description = "Name of the jobs queue."
  value       = aws_sqs_queue.jobs.name
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "message_retention_seconds" {
  description = "How long the jobs queue keeps a message."
  value       = aws_sqs_queue.jobs.message_retention_seconds
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the jobs queue."
  value       = local.visibility_timeout_seconds
}
