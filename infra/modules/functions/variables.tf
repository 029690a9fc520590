variable "name_prefix" {
  description = "Prefix of function names: <prefix>-api, <prefix>-worker, <prefix>-dlq-consumer, <prefix>-sweeper."
  type        = string
}

variable "environment" {
  description = "Environment name passed to the code as ANEMONEFISH_ENV (local, dev, prod)."
  type        = string
}

variable "account_id" {
  description = "AWS account id (used to name log group ARNs)."
  type        = string
}

variable "region" {
  description = "AWS region of the functions."
  type        = string
}

variable "worker_image_uri" {
  description = "Container image URI of the worker (ECR, tagged or by digest)."
  type        = string
}

variable "api_image_uri" {
  description = "Container image URI of the API; the DLQ consumer and the sweeper run the same image with other handlers."
  type        = string
}

variable "api_handler" {
  description = "Handler (image CMD) of the API function."
  type        = string
  default     = "anemonefish_services.api.handler.lambda_handler"
}

variable "worker_handler" {
  description = "Handler (image CMD) of the worker function."
  type        = string
  default     = "anemonefish_services.worker.handler.lambda_handler"
}

variable "dlq_handler" {
  description = "Handler (image CMD) of the DLQ consumer."
  type        = string
  default     = "anemonefish_services.worker.dlq.lambda_handler"
}

variable "sweeper_handler" {
  description = "Handler (image CMD) of the sweeper that expires uploads that never arrived."
  type        = string
  default     = "anemonefish_services.worker.sweeper.lambda_handler"
}

variable "webhook_sender_handler" {
  description = "Handler of the webhook sender (the API image's)."
  type        = string
  default     = "anemonefish_services.worker.webhook_sender.lambda_handler"
}

variable "webhook_sender_timeout_seconds" {
  description = "Timeout of the webhook sender: a delivery takes at most 30 s (3 attempts); the webhooks queue's visibility is a multiple of it."
  type        = number
  default     = 60

  validation {
    condition     = var.webhook_sender_timeout_seconds >= 45
    error_message = "webhook_sender_timeout_seconds must leave a 30 s delivery room: at least 45."
  }
}

variable "webhook_sender_reserved_concurrency" {
  description = "Webhook senders at once: deliveries to a receiver that never answers hold these, and nothing of the API or the workers."
  type        = number
  default     = 5

  validation {
    condition     = var.webhook_sender_reserved_concurrency >= 2
    error_message = "webhook_sender_reserved_concurrency must be at least 2: an SQS event source runs at least 2, and more than reserved are throttled."
  }
}

variable "webhook_sender_memory_mb" {
  description = "Memory of the webhook sender (it holds one webhook at a time)."
  type        = number
  default     = 256
}

variable "webhooks_queue_arn" {
  description = "ARN of the webhooks queue the functions send to and the sender consumes."
  type        = string
}

variable "webhooks_queue_url" {
  description = "URL of the webhooks queue (ANEMONEFISH_WEBHOOKS_QUEUE_URL)."
  type        = string
}

variable "sweeper_schedule_expression" {
  description = "EventBridge schedule of the sweeper."
  type        = string
  default     = "rate(15 minutes)"
}

variable "architecture" {
  description = "CPU architecture of the images (x86_64 or arm64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "worker_memory_mb" {
  description = "Memory of the worker; Lambda gives CPU in proportion (10240 MB = 6 vCPUs)."
  type        = number
  default     = 10240
  nullable    = false
}

variable "worker_timeout_seconds" {
  description = "Timeout of the worker (the queue's visibility timeout is derived from it). The worker keeps WORKER_SAFETY_MARGIN_S (30 s) to write results and starts no job with less than twice that left, so under 120 s little or nothing would run."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition     = var.worker_timeout_seconds >= 120 && var.worker_timeout_seconds <= 900
    error_message = "worker_timeout_seconds must be between 120 and 900: the worker starts no job with less than twice its 30 s safety margin left."
  }
}

variable "worker_ephemeral_storage_mb" {
  description = "Size of /tmp for the worker (result documents and decoder buffers)."
  type        = number
  default     = 10240
  nullable    = false

  validation {
    condition     = var.worker_ephemeral_storage_mb >= 512 && var.worker_ephemeral_storage_mb <= 10240
    error_message = "worker_ephemeral_storage_mb must be between 512 and 10240."
  }
}

variable "worker_reserved_concurrency" {
  description = "Reserved concurrency of the worker: caps cost and protects the account's other functions."
  type        = number
  default     = 10
}

variable "worker_batch_size" {
  description = "SQS messages per worker invocation (1: one recording per invocation)."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_batch_size >= 1 && var.worker_batch_size <= 10
    error_message = "worker_batch_size must be between 1 and 10."
  }
}

variable "worker_maximum_concurrency" {
  description = "Maximum concurrent worker invocations started by the SQS event source (2-1000, at most the reserved concurrency)."
  type        = number
  default     = 10

  validation {
    condition     = var.worker_maximum_concurrency >= 2 && var.worker_maximum_concurrency <= 1000
    error_message = "worker_maximum_concurrency must be between 2 and 1000."
  }
}

variable "api_memory_mb" {
  description = "Memory of the API function."
  type        = number
  default     = 512
  nullable    = false
}

variable "api_timeout_seconds" {
  description = "Timeout of the API function (API Gateway stops waiting after 29 s)."
  type        = number
  default     = 29
  nullable    = false
}

variable "api_reserved_concurrency" {
  description = "Reserved concurrency of the API function."
  type        = number
  default     = 20
  nullable    = false
}

variable "dlq_memory_mb" {
  description = "Memory of the DLQ consumer."
  type        = number
  default     = 256
  nullable    = false
}

variable "dlq_timeout_seconds" {
  description = "Timeout of the DLQ consumer: each dead letter it fails notifies its job (a webhook may take up to 8 s), one after another."
  type        = number
  default     = 180
  nullable    = false

  validation {
    condition     = var.dlq_timeout_seconds >= 60 && var.dlq_timeout_seconds <= 900
    error_message = "dlq_timeout_seconds must be between 60 and 900."
  }
}

variable "dlq_batch_size" {
  description = "Dead letters per DLQ consumer invocation; with dlq_timeout_seconds it must leave about 15 s a letter."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.dlq_batch_size >= 1 && var.dlq_batch_size <= 10
    error_message = "dlq_batch_size must be between 1 and 10."
  }
}

variable "sweeper_timeout_seconds" {
  description = "Timeout of the scheduled sweeper (re-drives stalled jobs, then expires uploads and notifies each, one after another)."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.sweeper_timeout_seconds >= 60 && var.sweeper_timeout_seconds <= 900
    error_message = "sweeper_timeout_seconds must be between 60 and 900."
  }
}

variable "dlq_reserved_concurrency" {
  description = "Reserved concurrency of the DLQ consumer."
  type        = number
  default     = 2
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key encrypting data stores, log groups and the functions' environment variables."
  type        = string
}

variable "input_bucket_name" {
  description = "Input bucket name (ANEMONEFISH_INPUT_BUCKET)."
  type        = string
}

variable "input_bucket_arn" {
  description = "Input bucket ARN."
  type        = string
}

variable "output_bucket_name" {
  description = "Output bucket name (ANEMONEFISH_OUTPUT_BUCKET)."
  type        = string
}

variable "output_bucket_arn" {
  description = "Output bucket ARN."
  type        = string
}

variable "upload_prefix" {
  description = "Key prefix of uploads in the input bucket (the storage module's output: the code's layout)."
  type        = string
}

variable "result_prefix" {
  description = "Key prefix of results in the output bucket (the storage module's output: the code's layout)."
  type        = string
}

variable "jobs_table_name" {
  description = "Jobs table name (ANEMONEFISH_JOBS_TABLE)."
  type        = string
}

variable "jobs_table_arn" {
  description = "Jobs table ARN."
  type        = string
}

variable "jobs_listing_index_arn" {
  description = "ARN of the jobs table's listing index."
  type        = string
}

variable "jobs_open_index_arn" {
  description = "ARN of the jobs table's sparse open-jobs index (queried by the sweeper)."
  type        = string
}

variable "jobs_queue_arn" {
  description = "Jobs queue ARN (the worker's event source)."
  type        = string
}

variable "jobs_queue_url" {
  description = "Jobs queue URL (ANEMONEFISH_JOBS_QUEUE_URL)."
  type        = string
}

variable "dlq_arn" {
  description = "Dead-letter queue ARN (the DLQ consumer's event source)."
  type        = string
}

variable "jobs_queue_retention_seconds" {
  description = "The jobs queue's message retention (ANEMONEFISH_JOBS_QUEUE_RETENTION_S): the sweeper re-drives a job still QUEUED before its last message outlives it."
  type        = number
}

variable "job_ttl_days" {
  description = "Days a job's record lives (ANEMONEFISH_JOB_TTL_DAYS). Its result documents are reachable only through it, so it should match the output bucket's result expiry."
  type        = number

  validation {
    condition     = var.job_ttl_days >= 1
    error_message = "job_ttl_days must be at least 1."
  }
}

variable "dlq_url" {
  description = "Dead-letter queue URL (ANEMONEFISH_DLQ_URL)."
  type        = string
}

variable "topic_arn" {
  description = "SNS topic of terminal job states (ANEMONEFISH_TOPIC_ARN)."
  type        = string
}

variable "auth_mode" {
  description = "ANEMONEFISH_AUTH_MODE: apigateway (tenant = API Gateway key id) or static (keys from static_api_keys)."
  type        = string
  default     = "apigateway"

  validation {
    condition     = contains(["apigateway", "static"], var.auth_mode)
    error_message = "auth_mode must be apigateway or static."
  }
}

variable "static_api_keys" {
  description = "Static mode only: map of API key to tenant id (ANEMONEFISH_API_KEYS)."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "cors_origins" {
  description = "Browser origins allowed by the API (ANEMONEFISH_CORS_ORIGINS)."
  type        = list(string)
}

variable "webhook_secret" {
  description = "Standard Webhooks signing secret (whsec_...) used by the worker (ANEMONEFISH_WEBHOOK_SECRET)."
  type        = string
  sensitive   = true
}

variable "app_settings" {
  description = "Tunables read by the settings model, without the ANEMONEFISH_ prefix (e.g. {MAX_UPLOAD_BYTES = \"53687091200\"})."
  type        = map(string)
  default     = {}
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
}

variable "small_ephemeral_storage_mb" {
  description = "Size of /tmp for the API, the DLQ consumer and the sweeper, which write nothing there (512 MB is Lambda's least)."
  type        = number
  default     = 512
}

variable "sweeper_reserved_concurrency" {
  description = "Reserved concurrency of the sweeper: 1, so two scheduled sweeps never re-drive the same stalled job at once."
  type        = number
  default     = 1
}
