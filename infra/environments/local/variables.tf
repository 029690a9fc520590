variable "aws_endpoint_url" {
  description = "URL of the local AWS emulator (moto server), e.g. http://127.0.0.1:5000."
  type        = string

  validation {
    condition     = can(regex("^https?://", var.aws_endpoint_url))
    error_message = "aws_endpoint_url must be an http(s) URL."
  }
}

variable "region" {
  description = "Region the emulator pretends to be."
  type        = string
  default     = "us-east-1"
}

variable "account_id" {
  description = "Account id of the emulator (moto's default account)."
  type        = string
  default     = "123456789012"
}

variable "cors_origins" {
  description = "Browser origins allowed to upload (the local console)."
  type        = list(string)
  default     = ["*"]
}
