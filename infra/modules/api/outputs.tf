output "invoke_url" {
  description = "Base URL of the API stage (append /jobs, /health, ...)."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "rest_api_id" {
  description = "Id of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "rest_api_name" {
  description = "Name of the REST API (CloudWatch dimension ApiName)."
  value       = aws_api_gateway_rest_api.this.name
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "api_key_ids" {
  description = "API key ids by tenant name (read the values with aws apigateway get-api-key --include-value)."
  value       = { for name, key in aws_api_gateway_api_key.this : name => key.id }
}

output "usage_plan_id" {
  description = "Id of the usage plan; attach further keys to it."
  value       = aws_api_gateway_usage_plan.this.id
}

output "access_log_group_name" {
  description = "Access log group of the stage."
  value       = aws_cloudwatch_log_group.access.name
}
