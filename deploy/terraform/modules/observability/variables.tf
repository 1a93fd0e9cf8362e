variable "name_prefix" {
  type        = string
  description = "Prefix of the topic, alarm and dashboard names."
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the customer managed KMS key encrypting the alarm topic (its policy must let cloudwatch.amazonaws.com use it)."
}

variable "queue_name" {
  type        = string
  description = "Name of the events queue."
}

variable "dlq_name" {
  type        = string
  description = "Name of the dead-letter queue."
}

variable "ingest_failures_queue_name" {
  type        = string
  description = "Name of the ingest Lambda's on-failure destination queue."
}

variable "function_names" {
  type        = map(string)
  description = "Short name (ingest, transform) => Lambda function name, for the error and throttle alarms."
}

variable "oldest_message_age_threshold_seconds" {
  type        = number
  description = "Alarm when the events queue's oldest message is older than this for 5 minutes."
  default     = 900
}

variable "alarm_email_addresses" {
  type        = list(string)
  description = "Addresses subscribed to the alarm topic (each must confirm the subscription)."
  default     = []
}

variable "tags" {
  type        = map(string)
  description = "Tags for the topic and the alarms."
  default     = {}
}
