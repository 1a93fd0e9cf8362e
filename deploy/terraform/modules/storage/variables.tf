variable "name_prefix" {
  type        = string
  description = "Prefix of the bucket names (`<prefix>-bronze-<account>-<region>`)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 lower-case letters, digits or hyphens (bucket names are at most 63 characters)."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the customer managed KMS key that encrypts the bronze and silver buckets."
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days after which a noncurrent object version is deleted."
  default     = 30
}

variable "abort_incomplete_multipart_days" {
  type        = number
  description = "Days after which an incomplete multipart upload is aborted."
  default     = 7
}

variable "athena_results_expiration_days" {
  type        = number
  description = "Days after which Athena query results under `athena-results/` in the silver bucket expire."
  default     = 30
}

variable "access_log_expiration_days" {
  type        = number
  description = "Days S3 server access logs are kept."
  default     = 365
}

variable "force_destroy" {
  type        = bool
  description = "Allow `terraform destroy` to delete non-empty buckets (never in production)."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags for every bucket."
  default     = {}
}
