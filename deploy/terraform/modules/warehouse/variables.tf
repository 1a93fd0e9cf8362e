variable "identifier" {
  type        = string
  description = "Identifier of the DB instance; also names its subnet group, security group, parameter group and log groups."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,54}[a-z0-9]$", var.identifier)) && !strcontains(var.identifier, "--")
    error_message = "identifier must be lower-case letters, digits and single hyphens, start with a letter and not end with a hyphen (RDS rules, at most 56 characters to leave room for suffixes)."
  }
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL version: a major (`16`) lets RDS pick and upgrade the minor; the parameter group family follows the major."
  default     = "16"

  validation {
    condition     = can(regex("^1[4-9](\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be a supported PostgreSQL major, optionally with a minor (e.g. 16 or 16.4)."
  }
}

variable "instance_class" {
  type        = string
  description = "DB instance class."
  default     = "db.t4g.small"
}

variable "allocated_storage_gb" {
  type        = number
  description = "Initial gp3 storage in GiB."
  default     = 20

  validation {
    condition     = var.allocated_storage_gb >= 20
    error_message = "allocated_storage_gb must be at least 20 (the gp3 minimum for PostgreSQL)."
  }
}

variable "max_allocated_storage_gb" {
  type        = number
  description = "Upper bound of storage autoscaling in GiB (0 disables autoscaling)."
  default     = 100

  # Compared with allocated_storage_gb by a precondition on the instance: a variable's
  # validation may name only itself before Terraform 1.9.
}

variable "db_name" {
  type        = string
  description = "Name of the database created in the instance (the path of ELT_WAREHOUSE_URL)."
  default     = "warehouse"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must start with a letter and hold only lower-case letters, digits and underscores (at most 63)."
  }
}

variable "master_username" {
  type        = string
  description = "Master user name; RDS generates its password into a Secrets Manager secret (nothing in state or tfvars)."
  default     = "elt_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.master_username)) && !contains(["postgres", "rdsadmin", "admin"], var.master_username)
    error_message = "master_username must start with a letter, hold only lower-case letters, digits and underscores, and not be a reserved name."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the project's KMS key: encrypts the storage, snapshots, the master user secret, Performance Insights and the log groups."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the private subnets (the VPC is not managed by this repository)."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC id (vpc-...): in envs/<env> set warehouse_vpc_id, or warehouse_enabled = false."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the DB subnet group, in at least two availability zones."

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must name at least two private subnets (subnet-...) in different AZs: in envs/<env> set warehouse_subnet_ids, or warehouse_enabled = false."
  }
}

variable "client_security_group_id" {
  type        = string
  description = "Security group of the Dagster tasks: the only source allowed to reach PostgreSQL (5432)."

  validation {
    condition     = can(regex("^sg-[0-9a-f]+$", var.client_security_group_id))
    error_message = "client_security_group_id must be a security group id (sg-...): in envs/<env> set warehouse_client_security_group_id, or warehouse_enabled = false."
  }
}

variable "multi_az" {
  type        = bool
  description = "Run a synchronous standby in a second availability zone."
  default     = true
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups (point-in-time recovery window)."
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35 (0 would turn automated backups off)."
  }
}

variable "backup_window" {
  type        = string
  description = "Daily UTC window of the automated backup (hh24:mi-hh24:mi), before the 02:00 UTC daily job."
  default     = "00:30-01:30"
}

variable "maintenance_window" {
  type        = string
  description = "Weekly UTC maintenance window (ddd:hh24:mi-ddd:hh24:mi), clear of the backup window."
  default     = "sun:03:00-sun:04:00"
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instance (turn off, apply, then destroy)."
  default     = true
}

variable "skip_final_snapshot" {
  type        = bool
  description = "Delete the instance without a final snapshot (dev only)."
  default     = false
}

variable "monitoring_interval_seconds" {
  type        = number
  description = "Enhanced monitoring interval in seconds; 0 turns it (and its IAM role) off."
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval_seconds)
    error_message = "monitoring_interval_seconds must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "performance_insights_retention_days" {
  type        = number
  description = "Performance Insights retention: 7 (free) or a multiple of 31 up to 731."
  default     = 7

  validation {
    condition     = var.performance_insights_retention_days == 7 || var.performance_insights_retention_days == 731 || (var.performance_insights_retention_days % 31 == 0 && var.performance_insights_retention_days <= 713)
    error_message = "performance_insights_retention_days must be 7, 731 or a multiple of 31 up to 713."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the exported PostgreSQL log groups."
  default     = 365
}

variable "log_min_duration_statement_ms" {
  type        = number
  description = "Log every statement that runs at least this long (ms); -1 turns it off."
  default     = 1000
}

variable "apply_immediately" {
  type        = bool
  description = "Apply modifications now instead of in the maintenance window."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource of the module."
  default     = {}
}
