variable "policy_name" {
  type        = string
  description = "Name of the IAM policy."
}

variable "bronze_bucket_arn" {
  type        = string
  description = "ARN of the bronze bucket."
}

variable "silver_bucket_arn" {
  type        = string
  description = "ARN of the silver bucket."
}

variable "queue_arn" {
  type        = string
  description = "ARN of the events queue."
}

variable "dlq_arn" {
  type        = string
  description = "ARN of the dead-letter queue."
}

variable "landings_queue_arn" {
  type        = string
  description = "ARN of the landings queue (silver manifest notifications)."
}

variable "idempotency_table_arn" {
  type        = string
  description = "ARN of the idempotency table."
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key encrypting the buckets, queues and table."
}

variable "warehouse_secret_arn" {
  type        = string
  description = "ARN of the warehouse's master user secret (ELT_WAREHOUSE_SECRET_ARN); null when the environment has no warehouse."
  default     = null
}

variable "events_topic_arn" {
  type        = string
  description = "ARN of the partition_ready topic (ELT_EVENTS_TOPIC_ARN)."
}

variable "alerts_topic_arn" {
  type        = string
  description = "ARN of the alerts topic (ELT_ALERTS_TOPIC_ARN)."
}

variable "tags" {
  type        = map(string)
  description = "Tags for the policy."
  default     = {}
}
