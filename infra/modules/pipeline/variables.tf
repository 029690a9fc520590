variable "environment" {
  description = "Environment name (dev, prod); resources are named anemonefish-<environment>-*."
  type        = string
}

variable "project" {
  description = "Project name, first part of every resource name."
  type        = string
  default     = "anemonefish"
}

variable "account_id" {
  description = "AWS account id of the deployment (12 digits)."
  type        = string
}

variable "region" {
  description = "AWS region of the deployment."
  type        = string
}

variable "bucket_name_suffix" {
  description = "Appended to bucket names to make them globally unique (e.g. -123456789012); the functions learn the names from their environment."
  type        = string
  default     = ""
}

variable "worker_image_uri" {
  description = "Worker container image (ECR URI with tag or digest)."
  type        = string
}

variable "api_image_uri" {
  description = "API container image (ECR URI with tag or digest); also runs the DLQ consumer."
  type        = string
}

variable "image_tag_mutability" {
  description = "ECR tag mutability (MUTABLE or IMMUTABLE)."
  type        = string
}

variable "api_key_required" {
  description = "Require API keys on every route (tenants are API keys)."
  type        = bool
}

variable "api_key_names" {
  description = "Tenants to create API keys for."
  type        = list(string)
}

variable "static_api_keys" {
  description = "Only when api_key_required is false: {api key = tenant id} checked by the API itself."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "throttle_rate_limit" {
  description = "Requests per second allowed per API key."
  type        = number
}

variable "throttle_burst_limit" {
  description = "Burst of requests allowed per API key."
  type        = number
}

variable "quota_limit" {
  description = "Requests allowed per API key per day."
  type        = number
}

variable "cors_origins" {
  description = "Browser origins allowed besides the console's own CloudFront origin."
  type        = list(string)
}

variable "log_retention_days" {
  description = "Retention of every log group."
  type        = number
}

variable "input_expiration_days" {
  description = "Days uploaded recordings are kept."
  type        = number
}

variable "result_expiration_days" {
  description = "Days result documents are kept."
  type        = number
}

variable "worker_reserved_concurrency" {
  description = "Reserved concurrency of the worker."
  type        = number
}

variable "worker_batch_size" {
  description = "SQS messages per worker invocation."
  type        = number
}

variable "worker_maximum_concurrency" {
  description = "Maximum concurrency of the worker's SQS event source."
  type        = number
}

variable "worker_timeout_seconds" {
  description = "Timeout of the worker (the queue's visibility timeout is six times this)."
  type        = number
  default     = 900
  nullable    = false
}

variable "dlq_timeout_seconds" {
  description = "Timeout of the DLQ consumer (the dead-letter queue's visibility timeout is six times this, and never under the worker's timeout)."
  type        = number
  default     = 180
  nullable    = false
}

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

variable "max_receive_count" {
  description = "Deliveries of a job message before it moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "webhook_secret" {
  description = "Standard Webhooks signing secret (whsec_...)."
  type        = string
  sensitive   = true

  # The base64 of 24 to 64 random bytes (the services refuse any other at their start):
  # 4 characters for 3 bytes, less one byte for each "=" of padding.
  validation {
    condition = (can(regex("^whsec_[A-Za-z0-9+/]+={0,2}$", var.webhook_secret))
      && length(trimprefix(var.webhook_secret, "whsec_")) % 4 == 0
      && length(trimprefix(var.webhook_secret, "whsec_")) * 3 / 4 - length(regexall("=", var.webhook_secret)) >= 24
    && length(trimprefix(var.webhook_secret, "whsec_")) * 3 / 4 - length(regexall("=", var.webhook_secret)) <= 64)
    error_message = "webhook_secret must be a Standard Webhooks secret: whsec_ and the base64 of 24 to 64 random bytes."
  }
}

variable "webhook_sender_timeout_seconds" {
  description = "Timeout of the webhook sender (a delivery takes at most 30 s); the webhooks queue waits 6 times it before a delivery is tried again."
  type        = number
  default     = 60
}

variable "webhook_sender_reserved_concurrency" {
  description = "Webhook senders at once: deliveries to receivers that never answer hold these, not the API or the workers."
  type        = number
  default     = 5
}

variable "app_settings" {
  description = "Further settings for the functions, without the ANEMONEFISH_ prefix (e.g. {MAX_UPLOAD_BYTES = \"53687091200\"}). Not the settings this module wires or secures (auth mode, keys, CORS, webhook secret and loopback webhooks, buckets, table, queues, topic, environment, lifetimes)."
  type        = map(string)
  default     = {}

  # These come from the module's own variables, checked there (prod's https-only CORS, the
  # secret's form); set here they would override them unchecked, or turn on the local stack's
  # loopback webhooks (the Lambda runtime API's own address) in AWS.
  validation {
    condition = length(setintersection(
      [for key in keys(var.app_settings) : upper(key)],
      ["ENV", "AUTH_MODE", "API_KEYS", "CORS_ORIGINS", "WEBHOOK_SECRET", "ALLOW_LOOPBACK_WEBHOOKS", "AWS_ENDPOINT_URL",
        "INPUT_BUCKET", "OUTPUT_BUCKET", "JOBS_TABLE", "JOBS_QUEUE_URL", "DLQ_URL", "TOPIC_ARN", "JOB_TTL_DAYS",
        "WEBHOOKS_QUEUE_URL",
      "JOBS_QUEUE_RETENTION_S"],
    )) == 0
    error_message = "app_settings cannot set ENV, AUTH_MODE, API_KEYS, CORS_ORIGINS, WEBHOOK_SECRET, ALLOW_LOOPBACK_WEBHOOKS, AWS_ENDPOINT_URL, the buckets, table, queues, topic or lifetimes: use the module's own variables."
  }
}

variable "console_static_dir" {
  description = "Folder of the browser console's static files to upload (null: do not upload)."
  type        = string
  default     = null
}

variable "manage_api_gateway_account_role" {
  description = "Set API Gateway's account-wide CloudWatch role (one per account and region: false in every other environment sharing them)."
  type        = bool
  default     = true
}

variable "alarm_email_addresses" {
  description = "E-mail addresses notified of alarms."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Protect the jobs table from deletion."
  type        = bool
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets and repositories."
  type        = bool
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
}
