variable "database_name" {
  type        = string
  description = "Name of the Glue database (lower case, letters, digits and underscores)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]*$", var.database_name))
    error_message = "database_name must match ^[a-z][a-z0-9_]*$ (Athena identifiers)."
  }
}

variable "datasets" {
  type = map(list(object({
    name = string
    type = string
  })))
  description = "Dataset name => its contract's columns, in declared order, with Glue (Hive) types; the lineage columns are appended here."
}

variable "gold_database_name" {
  type        = string
  description = "Name of the Glue database of the gold tables (lower case, letters, digits and underscores)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]*$", var.gold_database_name))
    error_message = "gold_database_name must match ^[a-z][a-z0-9_]*$ (Athena identifiers)."
  }
}

variable "current_datasets" {
  type        = list(string)
  description = "Datasets with a primary key (keys of `datasets`): each gets a gold `<dataset>_current` table with its silver columns."
  default     = []
}

variable "gold_tables" {
  type = map(list(object({
    name = string
    type = string
  })))
  description = "Gold model name => its Parquet columns with Glue (Hive) types, without `dt` (the partition key)."
  default     = {}

  validation {
    condition     = alltrue([for columns in values(var.gold_tables) : !contains([for c in columns : c.name], "dt")])
    error_message = "gold_tables columns must not include dt: it is the partition key, read from the path."
  }

  validation {
    condition     = alltrue([for name in keys(var.gold_tables) : can(regex("^[a-z][a-z0-9_]*$", name))])
    error_message = "gold_tables names must match ^[a-z][a-z0-9_]*$ (Athena identifiers)."
  }
}

variable "silver_bucket" {
  type        = string
  description = "Name of the silver bucket."
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key encrypting Athena query results."
}

variable "projection_date_range" {
  type        = string
  description = "Range of the projected dt partitions, as `<first day>,NOW`."
  default     = "2024-01-01,NOW"
}

variable "workgroup_name" {
  type        = string
  description = "Name of the Athena workgroup."
}

variable "bytes_scanned_cutoff_per_query" {
  type        = number
  description = "Largest scan of one query in bytes (cancels runaway queries; minimum 10 MB)."
  default     = 10737418240
}

variable "force_destroy" {
  type        = bool
  description = "Allow `terraform destroy` to delete the workgroup with its saved queries."
  default     = false
}
