variable "name_prefix" {
  description = "Prefix of repository names: <prefix>-worker, <prefix>-api."
  type        = string
}

variable "repositories" {
  description = "Short names of the image repositories to create."
  type        = list(string)
  default     = ["worker", "api"]
}

variable "image_tag_mutability" {
  description = "MUTABLE or IMMUTABLE; immutable tags make a deployed tag always mean the same image."
  type        = string
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["MUTABLE", "IMMUTABLE"], var.image_tag_mutability)
    error_message = "image_tag_mutability must be MUTABLE or IMMUTABLE."
  }
}

variable "keep_tagged_images" {
  description = "Number of tagged images kept per repository (older ones are expired)."
  type        = number
  default     = 20
}

variable "untagged_image_expiry_days" {
  description = "Days after which untagged images are expired."
  type        = number
  default     = 7
}

variable "force_delete" {
  description = "Allow terraform destroy to delete repositories that still hold images."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
}
