variable "queue_arn" {
  type        = string
  description = "ARN of the events queue."
}

variable "function_name" {
  type        = string
  description = "Name of the transform function."
}

variable "enabled" {
  type        = bool
  description = "Whether the mapping polls the queue (false pauses the hot path; messages wait in the queue)."
  default     = true
}

variable "batch_size" {
  type        = number
  description = "Messages per invocation (1-10000; above 10 needs a batching window)."
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  type        = number
  description = "Seconds Lambda waits to fill a batch (0-300)."
  default     = 5

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300
    error_message = "maximum_batching_window_in_seconds must be between 0 and 300."
  }
}

variable "maximum_concurrency" {
  type        = number
  description = "Most concurrent invocations the queue may drive (2-1000): caps the load on S3 and the account."
  default     = 10

  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000
    error_message = "maximum_concurrency must be between 2 and 1000."
  }
}
