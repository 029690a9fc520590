variable "input_bucket_name" {
  description = "Name of the input bucket (uploads land under uploads/{job_id}/)."
  type        = string
}

variable "output_bucket_name" {
  description = "Name of the output bucket (results under results/{job_id}/)."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts both buckets by default."
  type        = string
}

variable "jobs_queue_arn" {
  description = "ARN of the SQS jobs queue that receives ObjectCreated events of the input bucket."
  type        = string
}

variable "input_expiration_days" {
  description = "Days after which uploaded recordings are deleted (they are only needed until the job ends)."
  type        = number
  default     = 7

  validation {
    condition     = var.input_expiration_days >= 1
    error_message = "input_expiration_days must be at least 1."
  }
}

variable "result_expiration_days" {
  description = "Days after which result documents are deleted (kept longer than inputs)."
  type        = number
  default     = 365

  validation {
    condition     = var.result_expiration_days >= 1
    error_message = "result_expiration_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept before it is removed."
  type        = number
  default     = 30
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which unfinished multipart uploads are aborted (their parts cost storage)."
  type        = number
  default     = 2

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1
    error_message = "abort_incomplete_multipart_days must be at least 1."
  }
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to upload (PUT parts) and download results directly."
  type        = list(string)

  validation {
    condition     = length(var.cors_allowed_origins) > 0
    error_message = "cors_allowed_origins must name at least one origin."
  }
}

variable "cors_max_age_seconds" {
  description = "How long browsers may cache a CORS preflight answer."
  type        = number
  default     = 3600
}

variable "enforce_tls" {
  description = "Attach the bucket policy that denies every request not made over TLS. Off only for the local emulator, which speaks plain HTTP and evaluates bucket policies."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete non-empty buckets (local and throwaway environments only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
}

variable "input_noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted upload's old version is kept (a recording is read once, by its job)."
  type        = number
  default     = 1
}
