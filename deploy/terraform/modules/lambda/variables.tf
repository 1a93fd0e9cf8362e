variable "function_name" {
  type        = string
  description = "Name of the function; also names its role and its log group."
}

variable "description" {
  type        = string
  description = "Description of the function."
}

variable "handler" {
  type        = string
  description = "Entry point as `module.path.function` inside the zip."
}

variable "runtime" {
  type        = string
  description = "Lambda Python runtime; must match the `--python` the zip was built for."
  default     = "python3.12"

  validation {
    condition     = contains(["python3.11", "python3.12"], var.runtime)
    error_message = "runtime must be python3.11 or python3.12."
  }
}

variable "architecture" {
  type        = string
  description = "Instruction set; must match the `--arch` the zip was built for."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "zip_path" {
  type        = string
  description = "Path of the deployment package built by deploy/build.py (uploaded to artifacts_bucket)."
}

variable "artifacts_bucket" {
  type        = string
  description = "Versioned bucket the package is uploaded to before Lambda takes it."
}

variable "timeout" {
  type        = number
  description = "Timeout in seconds."

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "memory_size" {
  type        = number
  description = "Memory in MB (CPU scales with it)."
  default     = 512
}

variable "environment" {
  type        = map(string)
  description = "Environment variables of the function."
  default     = {}
}

variable "policy_statements" {
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  description = "Allow statements of the role, beyond writing its own logs (and traces): exact actions on exact resources."

  validation {
    condition     = alltrue([for s in var.policy_statements : alltrue([for a in s.actions : !strcontains(a, "*")])])
    error_message = "policy_statements must name exact actions: no wildcard."
  }

  validation {
    condition     = alltrue([for s in var.policy_statements : !contains(s.resources, "*")])
    error_message = "policy_statements must name resources: no \"*\"."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the customer managed KMS key encrypting the log group and the environment variables."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the function's log group."
  default     = 365
}

variable "reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions; null leaves the function on the unreserved account pool."
  default     = null
}

variable "tracing_mode" {
  type        = string
  description = "X-Ray tracing mode: Active samples and records traces, PassThrough only propagates upstream decisions."
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary of the role, when the account requires one."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for the function, its role and its log group."
  default     = {}
}
