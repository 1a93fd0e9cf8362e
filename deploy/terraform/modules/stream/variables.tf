variable "name" {
  type        = string
  description = "Name of the Kinesis stream (ELT_STREAMS pairs it with the dataset)."
}

variable "dataset" {
  type        = string
  description = "The dataset the stream feeds: Firehose writes under bronze/<dataset>/dt=<day>/."
}

variable "bronze_bucket_arn" {
  type        = string
  description = "ARN of the bronze bucket."
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the project's KMS key (stream, objects, logs)."
}

variable "error_prefix_root" {
  type        = string
  description = "Where Firehose puts records it could not deliver: outside bronze/, so the hot path never sees them."
  default     = "firehose-errors/"
}

variable "buffering_size_mb" {
  type        = number
  description = "Firehose writes an object when this many MiB are buffered (1-128)."
  default     = 64

  validation {
    condition     = var.buffering_size_mb >= 1 && var.buffering_size_mb <= 128
    error_message = "buffering_size_mb must be between 1 and 128."
  }
}

variable "buffering_interval_seconds" {
  type        = number
  description = "... or when the oldest buffered record is this old (0-900 seconds)."
  default     = 300

  validation {
    condition     = var.buffering_interval_seconds >= 0 && var.buffering_interval_seconds <= 900
    error_message = "buffering_interval_seconds must be between 0 and 900."
  }
}

variable "retention_hours" {
  type        = number
  description = "How long the stream keeps records (Firehose can catch up within it)."
  default     = 24
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the delivery stream's error log."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
