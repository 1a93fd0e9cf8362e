variable "region" {
  type        = string
  description = "AWS region of every resource."
  default     = "eu-west-1"
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (buckets add the account and region)."
  default     = "elt-dev"
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource, on top of Project/Environment/ManagedBy."
  default     = {}
}

variable "force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete non-empty buckets and the Athena workgroup (dev only)."
  default     = false
}

variable "ingest_zip" {
  type        = string
  description = "Ingest deployment package built by `make build`, relative to the repository root (or absolute)."
  default     = "dist/ingest.zip"
}

variable "transform_zip" {
  type        = string
  description = "Transform deployment package built by `make build`, relative to the repository root (or absolute)."
  default     = "dist/transform.zip"
}

variable "contracts_dir" {
  type        = string
  description = "Folder of the dataset contracts the Glue tables follow, relative to the repository root."
  default     = "elt_assets/contracts"
}

variable "lambda_runtime" {
  type        = string
  description = "Python runtime of both functions; must match `deploy/build.py --python`."
  default     = "python3.12"
}

variable "lambda_architecture" {
  type        = string
  description = "Architecture of both functions; must match `deploy/build.py --arch`."
  default     = "x86_64"
}

variable "ingest_timeout_seconds" {
  type        = number
  description = "Timeout of the ingest function."
  default     = 30
}

variable "ingest_memory_mb" {
  type        = number
  description = "Memory of the ingest function."
  default     = 256
}

variable "ingest_max_retry_attempts" {
  type        = number
  description = "Retries of a failed S3 -> ingest invocation before it goes to the ingest failure queue."
  default     = 2
}

variable "transform_timeout_seconds" {
  type        = number
  description = "Timeout of the transform function; the queue's visibility timeout must be at least 6 times it."
  default     = 120
}

variable "transform_memory_mb" {
  type        = number
  description = "Memory of the transform function (pyarrow and a whole object in memory): 1024 MB suits objects up to ~230 MB, or ~120 MB if every line of one can be bad; BENCHMARKS.md section 2 measures both."
  default     = 1024
}

variable "transform_batch_size" {
  type        = number
  description = "Pointer messages per transform invocation."
  default     = 10
}

variable "transform_batching_window_seconds" {
  type        = number
  description = "Seconds the event source mapping waits to fill a batch."
  default     = 5
}

variable "transform_max_concurrency" {
  type        = number
  description = "Most concurrent transform invocations the queue may drive."
  default     = 10
}

variable "queue_visibility_timeout_seconds" {
  type        = number
  description = "Visibility timeout of the events queue (at least 6 x transform_timeout_seconds)."
  default     = 720
}

variable "queue_retention_seconds" {
  type        = number
  description = "Retention of the events queue."
  default     = 345600
}

variable "dlq_retention_seconds" {
  type        = number
  description = "Retention of the DLQ (longer than the queue's)."
  default     = 1209600
}

variable "max_receive_count" {
  type        = number
  description = "Receives before a message moves to the DLQ (at least 5)."
  default     = 5
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the Lambda log groups."
  default     = 365
}

variable "projection_date_range" {
  type        = string
  description = "Range of the dt partitions Athena projects, as `<first day>,NOW`."
  default     = "2024-01-01,NOW"
}

variable "alarm_email_addresses" {
  type        = list(string)
  description = "Addresses subscribed to the alarm topic."
  default     = []
}

variable "oldest_message_age_threshold_seconds" {
  type        = number
  description = "Alarm when the oldest message in the events queue is older than this."
  default     = 900
}
