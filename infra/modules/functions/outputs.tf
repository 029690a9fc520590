output "function_names" {
  description = "Function names by role (api, worker, dlq, sweeper, webhooks)."
  value       = { for key, fn in aws_lambda_function.this : key => fn.function_name }
}

output "function_arns" {
  description = "Function ARNs by role (api, worker, dlq, sweeper, webhooks)."
  value       = { for key, fn in aws_lambda_function.this : key => fn.arn }
}

output "api_function_name" {
  description = "Name of the API function."
  value       = aws_lambda_function.this["api"].function_name
}

output "api_invoke_arn" {
  description = "Invoke ARN of the API function (for API Gateway)."
  value       = aws_lambda_function.this["api"].invoke_arn
}

output "worker_function_name" {
  description = "Name of the worker function."
  value       = aws_lambda_function.this["worker"].function_name
}

output "dlq_function_name" {
  description = "Name of the DLQ consumer."
  value       = aws_lambda_function.this["dlq"].function_name
}

output "role_arns" {
  description = "Execution role ARNs by function role (api, worker, dlq, sweeper, webhooks)."
  value       = { for key, role in aws_iam_role.this : key => role.arn }
}

output "log_group_names" {
  description = "Log group names by function role."
  value       = { for key, group in aws_cloudwatch_log_group.this : key => group.name }
}

output "environment_variable_names" {
  description = "Names of the environment variables (settings) each function gets, by function role."
  # Names only: some values are secrets. The keys are not, so the marks are dropped.
  value = { for role, variables in local.environments : role => sort(nonsensitive(keys(variables))) }
}
