variable "table_name" {
  description = "Name of the DynamoDB jobs table."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the KMS key encrypting the table."
  type        = string
}

variable "hash_key" {
  description = "Partition key (string) of the table."
  type        = string
  default     = "job_id"
}

variable "listing_index_name" {
  description = "Global secondary index used to list a tenant's jobs, newest first."
  type        = string
  default     = "tenant-created-index"
}

variable "listing_index_hash_key" {
  description = "Partition key (string) of the listing index."
  type        = string
  default     = "tenant_id"
}

variable "listing_index_range_key" {
  description = "Sort key (string, ISO-8601 time) of the listing index."
  type        = string
  default     = "created_at"
}

variable "open_index_name" {
  description = "Sparse global secondary index of the jobs still in progress (the sweeper's view)."
  type        = string
  default     = "open-status-index"
}

variable "open_index_hash_key" {
  description = "Partition key (string) of the open-jobs index: the job's status while it is active, absent once it ends."
  type        = string
  default     = "open_status"
}

variable "open_index_range_key" {
  description = "Sort key (string, ISO-8601 time) of the open-jobs index: when the job last changed."
  type        = string
  default     = "updated_at"
}

variable "ttl_attribute" {
  description = "Attribute holding the epoch second after which DynamoDB deletes a job item."
  type        = string
  default     = "expires_at_epoch"
}

variable "deletion_protection" {
  description = "Refuse to delete the table (set in production)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
}
