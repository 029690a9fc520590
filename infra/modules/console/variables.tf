variable "name_prefix" {
  description = "Prefix of resource names; the bucket is <prefix>-console<bucket_name_suffix>."
  type        = string
}

variable "bucket_name_suffix" {
  description = "Appended to the bucket name to make it globally unique (e.g. -123456789012)."
  type        = string
  default     = ""
}

variable "account_id" {
  description = "AWS account id owning the bucket and its key."
  type        = string
}

variable "static_dir" {
  description = "Folder of the console's static files, uploaded to the bucket (null: upload them yourself)."
  type        = string
  default     = null
}

variable "api_base_url" {
  description = "URL of the jobs API written into the console's config.js."
  type        = string
}

variable "other_api_urls" {
  description = "Other API URLs the console's ?api= may point it at (config.js otherApis; any on the user's own computer may be named too). Others are refused: a link naming one would send a pasted key to whoever wrote it."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for url in var.other_api_urls : startswith(url, "https://")])
    error_message = "other_api_urls must be https:// URLs."
  }
}

variable "concurrent_parts" {
  description = "Parts of a multipart upload the console sends at once (config.js)."
  type        = number
  default     = 4
}

variable "poll_interval_seconds" {
  description = "Seconds between the console's status polls (config.js)."
  type        = number
  default     = 1.5
}

variable "price_class" {
  description = "CloudFront price class (which edge locations serve the console)."
  type        = string
  default     = "PriceClass_100"
}

variable "noncurrent_version_expiration_days" {
  description = "Days replaced console files are kept (for a quick rollback)."
  type        = number
  default     = 30
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete the bucket with its files."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before the console files' KMS key is deleted, 7-30 days."
  type        = number
  default     = 30
}

variable "abort_incomplete_upload_days" {
  description = "Days after which an incomplete multipart upload to the console bucket is aborted."
  type        = number
  default     = 1
}
