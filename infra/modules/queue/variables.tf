variable "queue_name" {
  description = "Name of the queue; the dead-letter queue is named \"<queue_name>-dlq\"."
  type        = string
}

variable "account_id" {
  description = "AWS account id that owns the input bucket allowed to send to the queue."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  description = "AWS region of the queues."
  type        = string
}

variable "source_bucket_arn" {
  description = "ARN of the input bucket, the only sender the queue policy allows (the jobs queue); null: no queue policy, the senders' roles grant sqs:SendMessage (the webhooks queue)."
  type        = string
  default     = null
}

variable "purpose" {
  description = "The queue's Role tag (jobs-queue, webhooks-queue)."
  type        = string
  default     = "jobs-queue"
}

variable "kms_key_arn" {
  description = "ARN of the KMS key encrypting both queues."
  type        = string
}

variable "consumer_timeout_seconds" {
  description = "Timeout of the Lambda consuming the queue (the worker's, the webhook sender's)."
  type        = number
  default     = 900
}

variable "dlq_consumer_timeout_seconds" {
  description = "Timeout of the DLQ consumer Lambda reading the dead-letter queue (its visibility timeout is a multiple of this)."
  type        = number
  default     = 180
}

variable "visibility_timeout_multiplier" {
  description = "Each queue's visibility timeout as a multiple of its consumer's timeout (AWS advises at least 6)."
  type        = number
  default     = 6

  validation {
    condition     = var.visibility_timeout_multiplier >= 6
    error_message = "visibility_timeout_multiplier must be at least 6 (AWS guidance for Lambda event sources)."
  }
}

variable "max_receive_count" {
  description = "Deliveries of a message before it moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1
    error_message = "max_receive_count must be at least 1."
  }
}

variable "message_retention_seconds" {
  description = "How long the queue keeps a message. For the jobs queue: SQS drops an older one without dead-lettering it; the sweeper re-drives a job still QUEUED before its last message goes (ANEMONEFISH_JOBS_QUEUE_RETENTION_S)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.message_retention_seconds >= 86400 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 1 day (the sweeper's re-drive must come first) and SQS's 14 days."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps a message (maximum 14 days)."
  type        = number
  default     = 1209600
}

variable "kms_data_key_reuse_period_seconds" {
  description = "How long SQS reuses a data key before calling KMS again."
  type        = number
  default     = 300
}

variable "restrict_dlq_sources" {
  description = "Allow only its queue to use the DLQ (redrive allow policy). Off only for emulators that do not report the attribute back (moto), where the provider would wait for it forever."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
}

variable "receive_wait_time_seconds" {
  description = "Long polling of the queue, 0-20 s (20: fewest empty receives)."
  type        = number
  default     = 20
}
