variable "function_name" {
  type        = string
  description = "Name of the ingest function."
}

variable "function_arn" {
  type        = string
  description = "ARN of the ingest function."
}

variable "bucket_name" {
  type        = string
  description = "Name of the bronze bucket."
}

variable "bucket_arn" {
  type        = string
  description = "ARN of the bronze bucket (the permission's source_arn)."
}

variable "filter_prefix" {
  type        = string
  description = "Key prefix of the objects whose creation invokes the function."
  default     = "bronze/"
}

variable "on_failure_destination_arn" {
  type        = string
  description = "ARN of the SQS queue receiving events that failed every retry (the function's role must be allowed to send to it)."
}

variable "maximum_retry_attempts" {
  type        = number
  description = "Retries of a failed asynchronous invocation (0-2)."
  default     = 2

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 2
    error_message = "maximum_retry_attempts must be between 0 and 2."
  }
}

variable "maximum_event_age_in_seconds" {
  type        = number
  description = "Age after which an unprocessed event goes to the on-failure destination (60-21600)."
  default     = 21600

  validation {
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 21600
    error_message = "maximum_event_age_in_seconds must be between 60 and 21600."
  }
}
