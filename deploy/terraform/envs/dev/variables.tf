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
  description = "Timeout of the transform function; the queue's visibility timeout must be at least 6 times it. A streamed gzip or CSV object must finish within it (less a fifth, at most 30 s): raise it, up to 900, for large gzip exports."
  default     = 120
}

variable "transform_memory_mb" {
  type        = number
  description = "Memory of the transform function. An object read whole is in memory whole: 1024 MB suits objects up to ~230 MB, or ~120 MB if every line of one can be bad (BENCHMARKS.md section 2). A split JSONL object costs one chunk per invocation, and a streamed gzip or CSV object one block: a 64 MiB chunk peaks near 360 MiB, so 512 MB would do for those whatever their size (section 8)."
  default     = 1024
}

variable "chunk_bytes" {
  type        = number
  description = "ELT_CHUNK_BYTES: uncompressed JSONL objects larger than this are split into byte ranges of this size, one transform each; a chunk's memory follows it (BENCHMARKS.md, section 8), so the transform's memory and timeout are sized per chunk, whatever the object's size."
  default     = 67108864

  validation {
    condition     = var.chunk_bytes >= 1048576
    error_message = "chunk_bytes must be at least 1 MiB."
  }
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

variable "gold_tables" {
  type = map(list(object({
    name = string
    type = string
  })))
  description = "SQL gold model (elt_assets/models/<name>.sql) => its output columns with Glue types, without the dt partition key. Terraform cannot run a model to learn its schema, so the columns are declared here and a test compares them with the models' output schemas; `<dataset>_current` tables come from the contracts instead."
  default = {
    shipment_status = [
      { name = "shipment_id", type = "string" },
      { name = "carrier", type = "string" },
      { name = "origin", type = "string" },
      { name = "destination", type = "string" },
      { name = "created_at", type = "timestamp" },
      { name = "last_status", type = "string" },
      { name = "last_location", type = "string" },
      { name = "last_event_at", type = "timestamp" },
    ]
    shipments_by_carrier = [
      { name = "carrier", type = "string" },
      { name = "shipments", type = "bigint" },
      { name = "total_kg", type = "double" },
    ]
    transactions_enriched = [
      { name = "transaction_id", type = "string" },
      { name = "account_id", type = "string" },
      { name = "booked_at", type = "timestamp" },
      { name = "amount", type = "decimal(18,2)" },
      { name = "currency", type = "string" },
      { name = "usd_per_unit", type = "decimal(18,8)" },
      { name = "amount_usd", type = "decimal(18,2)" },
      { name = "merchant", type = "string" },
      { name = "merchant_category", type = "string" },
      { name = "merchant_country", type = "string" },
      { name = "category", type = "string" },
      { name = "is_refund", type = "boolean" },
    ]
  }
}

variable "warehouse_enabled" {
  type        = bool
  description = "Deploy the PostgreSQL warehouse (DESIGN section 10); needs warehouse_vpc_id, warehouse_subnet_ids and warehouse_client_security_group_id."
  default     = true
}

variable "warehouse_vpc_id" {
  type        = string
  description = "VPC of the warehouse's private subnets (not managed here)."
  default     = null
}

variable "warehouse_subnet_ids" {
  type        = list(string)
  description = "Private subnets of the warehouse, in at least two availability zones."
  default     = []
}

variable "warehouse_client_security_group_id" {
  type        = string
  description = "Security group of the Dagster tasks: the only source allowed to reach the warehouse on 5432."
  default     = null
}

variable "warehouse_engine_version" {
  type        = string
  description = "PostgreSQL major (or major.minor) of the warehouse."
  default     = "16"
}

variable "warehouse_instance_class" {
  type        = string
  description = "DB instance class of the warehouse."
  default     = "db.t4g.small"
}

variable "warehouse_multi_az" {
  type        = bool
  description = "Run the warehouse with a standby in a second availability zone."
  default     = true
}

variable "warehouse_backup_retention_days" {
  type        = number
  description = "Days of automated backups of the warehouse (1 to 35)."
  default     = 7
}

variable "warehouse_deletion_protection" {
  type        = bool
  description = "Refuse to delete the warehouse instance."
  default     = true
}

variable "warehouse_skip_final_snapshot" {
  type        = bool
  description = "Delete the warehouse without a final snapshot."
  default     = false
}

variable "events_example_consumer" {
  type        = bool
  description = "Subscribe an example SQS queue to the partition_ready topic."
  default     = true
}

variable "stream_datasets" {
  type        = list(string)
  description = "Datasets that arrive on a Kinesis stream, delivered to bronze by Firehose."
  default     = ["tracking_events"]
}

variable "stream_buffering_size_mb" {
  type        = number
  description = "Firehose writes a bronze object when this many MiB are buffered."
  default     = 64
}

variable "stream_buffering_interval_seconds" {
  type        = number
  description = "... or when the oldest buffered record is this many seconds old."
  default     = 300
}
