variable "alias" {
  type        = string
  description = "Alias of the key, without the `alias/` prefix."
}

variable "description" {
  type        = string
  description = "Description of the key."
}

variable "deletion_window_in_days" {
  type        = number
  description = "Waiting period before a scheduled deletion of the key takes effect."
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "log_group_prefix" {
  type        = string
  description = "Name prefix of the CloudWatch log groups allowed to use the key (e.g. `/aws/lambda/elt-dev-`)."
}

variable "tags" {
  type        = map(string)
  description = "Tags for the key."
  default     = {}
}
