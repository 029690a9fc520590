variable "account_id" {
  description = "AWS account id of the production deployment."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  description = "AWS region of the production deployment."
  type        = string
  default     = "eu-west-1"
}

variable "offline_plan" {
  description = "Skip the provider's credential, region and metadata checks (offline CI plans with fake credentials)."
  type        = bool
  default     = false
}

variable "bucket_name_suffix" {
  description = "Appended to bucket names to make them globally unique (e.g. -123456789012)."
  type        = string
  default     = ""
}

variable "worker_image_uri" {
  description = "Worker image (ECR URI with an immutable tag or a digest)."
  type        = string
}

variable "api_image_uri" {
  description = "API image (ECR URI with an immutable tag or a digest)."
  type        = string
}

variable "api_key_names" {
  description = "Tenants (labs) to create API keys for."
  type        = list(string)

  validation {
    condition     = length(var.api_key_names) > 0
    error_message = "prod needs at least one API key."
  }
}

variable "cors_origins" {
  description = "Browser origins allowed besides the console; never a wildcard in production."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for origin in var.cors_origins : startswith(origin, "https://") && !strcontains(origin, "*")])
    error_message = "prod CORS origins must be explicit https:// origins without wildcards."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group (at least a year in production)."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "prod keeps logs for at least 365 days."
  }
}

variable "worker_reserved_concurrency" {
  description = "Reserved concurrency of the worker (parallel recordings)."
  type        = number
  default     = 20
}

variable "worker_maximum_concurrency" {
  description = "Maximum concurrency of the worker's SQS event source."
  type        = number
  default     = 20
}

variable "webhook_secret" {
  description = "Standard Webhooks signing secret (whsec_...); pass with TF_VAR_webhook_secret."
  type        = string
  sensitive   = true
}

variable "manage_api_gateway_account_role" {
  description = "Set API Gateway's account-wide CloudWatch logging role; false if another environment in this account and region already does."
  type        = bool
  default     = true
}

variable "alarm_email_addresses" {
  description = "E-mail addresses notified of alarms."
  type        = list(string)
  default     = []
}

variable "app_settings" {
  description = "Further settings for the functions, without the ANEMONEFISH_ prefix."
  type        = map(string)
  default     = {}
}

# Function sizing: null keeps the modules' defaults (docs/deploy.md).

variable "worker_memory_mb" {
  description = "Memory of the worker (null: the functions module's 10240 MB; Lambda gives CPU in proportion)."
  type        = number
  default     = null
}

variable "worker_ephemeral_storage_mb" {
  description = "Size of the worker's /tmp (null: the functions module's 10240 MB)."
  type        = number
  default     = null
}

variable "api_memory_mb" {
  description = "Memory of the API function (null: the functions module's 512 MB)."
  type        = number
  default     = null
}

variable "api_timeout_seconds" {
  description = "Timeout of the API function (null: the functions module's 29 s, API Gateway's limit)."
  type        = number
  default     = null
}

variable "api_reserved_concurrency" {
  description = "Reserved concurrency of the API function (null: the functions module's 20)."
  type        = number
  default     = null
}

variable "dlq_memory_mb" {
  description = "Memory of the DLQ consumer and the sweeper (null: the functions module's 256 MB)."
  type        = number
  default     = null
}

variable "dlq_batch_size" {
  description = "Dead letters per DLQ consumer invocation (null: the functions module's 10)."
  type        = number
  default     = null
}

variable "dlq_reserved_concurrency" {
  description = "Reserved concurrency of the DLQ consumer (null: the functions module's 2)."
  type        = number
  default     = null
}

variable "sweeper_timeout_seconds" {
  description = "Timeout of the scheduled sweeper (null: the functions module's 300 s)."
  type        = number
  default     = null
}

variable "worker_timeout_seconds" {
  description = "Timeout of the worker, 120-900 s (null: the pipeline's 900; the jobs queue's visibility timeout is six times it)."
  type        = number
  default     = null
}

variable "dlq_timeout_seconds" {
  description = "Timeout of the DLQ consumer, 60-900 s (null: the pipeline's 180)."
  type        = number
  default     = null
}
