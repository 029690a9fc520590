output "table_name" {
  description = "Name of the jobs table."
  value       = aws_dynamodb_table.jobs.name
}

output "table_arn" {
  description = "ARN of the jobs table."
  value       = aws_dynamodb_table.jobs.arn
}

output "listing_index_arn" {
  description = "ARN of the listing index."
  value       = "${aws_dynamodb_table.jobs.arn}/index/${var.listing_index_name}"
}

output "listing_index_name" {
  description = "Name of the listing index."
  value       = var.listing_index_name
}

output "open_index_arn" {
  description = "ARN of the sparse open-jobs index."
  value       = "${aws_dynamodb_table.jobs.arn}/index/${var.open_index_name}"
}
