variable "name_prefix" {
  description = "Prefix of every resource name, e.g. anemonefish-dev."
  type        = string
}

variable "account_id" {
  description = "AWS account id that owns the key (12 digits)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  description = "AWS region of the key (CloudWatch Logs is granted per region)."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Days a scheduled key deletion waits (7-30)."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
}
