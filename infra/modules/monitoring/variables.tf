variable "name_prefix" {
  description = "Prefix of alarm, topic and dashboard names."
  type        = string
}

variable "region" {
  description = "AWS region shown by the dashboard."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the alarm topic."
  type        = string
}

variable "jobs_queue_name" {
  description = "Name of the jobs queue."
  type        = string
}

variable "dlq_name" {
  description = "Name of the dead-letter queue."
  type        = string
}

variable "worker_function_name" {
  description = "Name of the worker function."
  type        = string
}

variable "dlq_function_name" {
  description = "Name of the DLQ consumer function (its errors alarm)."
  type        = string
}

variable "webhooks_dlq_name" {
  description = "Name of the webhooks dead-letter queue (undelivered webhooks)."
  type        = string
}

variable "webhook_sender_function_name" {
  description = "Name of the webhook sender function."
  type        = string
}

variable "sweeper_function_name" {
  description = "Name of the scheduled sweeper function (its errors alarm)."
  type        = string
}

variable "dlq_oldest_message_age_threshold_seconds" {
  description = "Age of the oldest unread dead letter that raises an alarm (the consumer takes each within seconds)."
  type        = number
  default     = 600
}

variable "evaluation_periods" {
  description = "Periods over threshold before an alarm fires (1: at once; every alarm here means a job may be lost or late)."
  type        = number
  default     = 1
}

variable "api_function_name" {
  description = "Name of the API function."
  type        = string
}

variable "rest_api_name" {
  description = "Name of the REST API (CloudWatch dimension ApiName)."
  type        = string
}

variable "api_stage_name" {
  description = "Stage of the REST API."
  type        = string
}

variable "oldest_message_age_threshold_seconds" {
  description = "Alarm when the oldest job waited longer than this (the queue is not keeping up)."
  type        = number
  default     = 1800
}

variable "api_5xx_threshold" {
  description = "Alarm when the API returns more 5xx answers than this in one period."
  type        = number
  default     = 5
}

variable "worker_error_threshold" {
  description = "Alarm when the worker fails more invocations than this in one period."
  type        = number
  default     = 0
}

variable "period_seconds" {
  description = "Evaluation period of the alarms."
  type        = number
  default     = 300
}

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
}
