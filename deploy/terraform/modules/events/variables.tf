variable "name" {
  type        = string
  description = "Name of the partition_ready topic (ELT_EVENTS_TOPIC_ARN)."
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the project's KMS key, which encrypts the topic."
}

variable "example_consumer" {
  type        = bool
  description = "Subscribe an example SQS queue (<name>-consumer) to the topic."
  default     = true
}

variable "message_retention_seconds" {
  type        = number
  description = "How long an unread event waits in the example consumer queue."
  default     = 345600
}

variable "tags" {
  type        = map(string)
  description = "Tags for the topic and the queue."
  default     = {}
}
