variable "name" {
  type        = string
  description = "Name of the events queue; the DLQ and the ingest failure queue take it as a prefix."
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the customer managed KMS key for server-side encryption of the queues."
}

variable "kms_data_key_reuse_period_seconds" {
  type        = number
  description = "How long SQS reuses a data key before calling KMS again (fewer KMS calls, lower cost)."
  default     = 3600
}

variable "consumer_timeout_seconds" {
  type        = number
  description = "Timeout of the Lambda consuming the events queue (the transform); the visibility timeout must be at least 6 times it."
}

variable "visibility_timeout_seconds" {
  type        = number
  description = "Visibility timeout of the events queue; at least 6 x consumer_timeout_seconds."
}

variable "message_retention_seconds" {
  type        = number
  description = "Retention of the events queue."
  default     = 345600
}

variable "dlq_message_retention_seconds" {
  type        = number
  description = "Retention of the DLQ and the ingest failure queue; longer than the events queue's."
  default     = 1209600
}

variable "max_receive_count" {
  type        = number
  description = "Receives of a message before SQS moves it to the DLQ."
  default     = 5

  validation {
    condition     = var.max_receive_count >= 5
    error_message = "max_receive_count must be at least 5, so throttled or briefly failing batches are not dead-lettered."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for the queues."
  default     = {}
}
