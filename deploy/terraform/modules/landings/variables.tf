variable "name" {
  type        = string
  description = "Name of the landings queue."
}

variable "bucket_name" {
  type        = string
  description = "Name of the silver bucket."
}

variable "bucket_arn" {
  type        = string
  description = "ARN of the silver bucket (the only sender the queue accepts)."
}

variable "filter_prefix" {
  type        = string
  description = "Key prefix of the objects whose creation is reported (the manifests)."
  default     = "_manifests/"
}

variable "message_retention_seconds" {
  type        = number
  description = "How long an unread landing waits for the sensor."
  default     = 345600
}

variable "tags" {
  type        = map(string)
  description = "Tags for the queue."
  default     = {}
}
