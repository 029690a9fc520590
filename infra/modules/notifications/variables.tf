variable "topic_name" {
  description = "Name of the SNS topic announcing jobs that reached a terminal state."
  type        = string
}

variable "account_id" {
  description = "AWS account id that owns the topic."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key encrypting the topic."
  type        = string
}

variable "subscriber_account_ids" {
  description = "Other AWS accounts allowed to subscribe (e.g. a lab's own account)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
}
