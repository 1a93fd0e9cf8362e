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

variable "log_group_prefixes" {
  type        = list(string)
  description = "Name prefixes of the CloudWatch log groups allowed to use the key (e.g. `/aws/lambda/elt-dev-`, `/aws/rds/instance/elt-dev-warehouse/`)."

  validation {
    condition     = length(var.log_group_prefixes) > 0 && alltrue([for p in var.log_group_prefixes : startswith(p, "/") && length(p) > 1])
    error_message = "log_group_prefixes must name at least one log group prefix, each starting with /."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for the key."
  default     = {}
}
