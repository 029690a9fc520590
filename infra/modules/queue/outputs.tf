output "queue_arn" {
  description = "ARN of the queue (available once its policy, if any, lets the input bucket send)."
  value       = aws_sqs_queue.jobs.arn
  # S3 validates the destination when the notification is written: the policy must exist first.
  depends_on = [aws_sqs_queue_policy.jobs]
}

output "queue_url" {
  description = "URL of the queue."
  value       = aws_sqs_queue.jobs.id
}

output "queue_name" {
  description = "Name of the queue."
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
  description = "How long the queue keeps a message."
  value       = aws_sqs_queue.jobs.message_retention_seconds
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the queue."
  value       = local.visibility_timeout_seconds
}
