variable "name_prefix" {
  description = "Prefix of resource names, e.g. anemonefish-dev."
  type        = string
}

variable "stage_name" {
  description = "Name of the deployed stage (part of the URL)."
  type        = string
  default     = "v1"
}

variable "api_function_name" {
  description = "Name of the API Lambda that every route proxies to."
  type        = string
}

variable "api_invoke_arn" {
  description = "Invoke ARN of the API Lambda."
  type        = string
}

variable "api_key_required" {
  description = "Require an API key (x-api-key) on every route but CORS preflight."
  type        = bool
  default     = true
}

variable "api_key_names" {
  description = "Names of the API keys to create (one per tenant); each is attached to the usage plan."
  type        = list(string)
  default     = []
}

variable "throttle_rate_limit" {
  description = "Steady-state requests per second allowed per API key."
  type        = number
  default     = 20
}

variable "throttle_burst_limit" {
  description = "Burst of requests allowed per API key."
  type        = number
  default     = 40
}

variable "stage_throttle_rate_limit" {
  description = "Requests per second the whole stage accepts (all keys together), above which API Gateway answers 429."
  type        = number
  default     = 200
}

variable "stage_throttle_burst_limit" {
  description = "Burst of requests the whole stage accepts."
  type        = number
  default     = 400
}

variable "quota_limit" {
  description = "Requests allowed per API key per quota period."
  type        = number
  default     = 100000
}

variable "quota_period" {
  description = "Quota period: DAY, WEEK or MONTH."
  type        = string
  default     = "DAY"

  validation {
    condition     = contains(["DAY", "WEEK", "MONTH"], var.quota_period)
    error_message = "quota_period must be DAY, WEEK or MONTH."
  }
}

variable "gateway_response_origin" {
  description = "The one origin named in API Gateway's own error responses (missing key, throttled), usually the console; the API Lambda answers CORS for every allowed origin itself."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the access log group."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key encrypting the access log group."
  type        = string
}

variable "manage_account_logging_role" {
  description = "Set the account-wide API Gateway CloudWatch role (needed once per account and region for access logs)."
  type        = bool
  default     = true
}

variable "account_logging_project" {
  description = "Project whose environments share the account: the account-wide logging role (one per account and region, serving every API there) may write the access logs of each of its environments, so an environment that leaves the role to another still logs."
  type        = string
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
}
