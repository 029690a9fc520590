output "topic_arn" {
  description = "ARN of the job events topic."
  value       = aws_sns_topic.job_events.arn
}

output "topic_name" {
  description = "Name of the job events topic."
  value       = aws_sns_topic.job_events.name
}
