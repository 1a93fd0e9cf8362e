variable "name" {
  type        = string
  description = "Name of the idempotency table."
}

variable "hash_key" {
  type        = string
  description = "Partition key attribute (string); must be the key attribute of the Powertools persistence layer."
}

variable "ttl_attribute" {
  type        = string
  description = "Attribute holding the record's expiry (epoch seconds); must be the expiry attribute of the Powertools persistence layer."
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the customer managed KMS key encrypting the table."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the table (turn off before `terraform destroy`)."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags for the table."
  default     = {}
}
