provider "aws" {
  region = var.region

  default_tags {
    tags = merge(
      {
        Project     = "serverless-elt"
        Environment = "dev"
        ManagedBy   = "terraform"
      },
      var.tags,
    )
  }
}

locals {
  # This root is deploy/terraform/envs/dev: the repository root is four levels up.
  repo_root     = "${path.root}/../../../.."
  ingest_zip    = startswith(var.ingest_zip, "/") ? var.ingest_zip : "${local.repo_root}/${var.ingest_zip}"
  transform_zip = startswith(var.transform_zip, "/") ? var.transform_zip : "${local.repo_root}/${var.transform_zip}"

  # The Glue tables follow the dataset contracts: one table per contract file, its columns in
  # declared order, contract types mapped to Hive types (int64 -> bigint, float64 -> double,
  # bool -> boolean, list<..> -> array<..>; string, timestamp, date, decimal(p,s), struct<..>
  # keep their names).
  contracts_dir = "${local.repo_root}/${var.contracts_dir}"
  contracts     = [for f in sort(fileset(local.contracts_dir, "*.yaml")) : yamldecode(file("${local.contracts_dir}/${f}"))]
  # A contract with `extra_fields: keep` adds the `_extra` JSON string column after its own.
  glue_datasets = {
    for c in local.contracts : c.name => concat([
      for col in c.columns : {
        name = col.name
        type = replace(replace(replace(replace(replace(replace(replace(col.type, " ", ""), "/\\bint64\\b/", "bigint"), "/\\bint32\\b/", "int"), "/\\bfloat64\\b/", "double"), "/\\bfloat32\\b/", "float"), "/\\bbool\\b/", "boolean"), "/\\blist</", "array<")
      }
    ], try(c.extra_fields, "drop") == "keep" ? [{ name = "_extra", type = "string" }] : [])
  }
  # Every dataset with a primary key has a gold `<dataset>_current` (DESIGN §9); reference data
  # (`kind: reference`) is read whole by the models and has none.
  current_datasets = [for c in local.contracts : c.name if try(c.kind, "dataset") == "dataset" && length(try(c.primary_key, [])) > 0]

  warehouse_identifier = "${var.name_prefix}-warehouse"

  function_names = {
    ingest    = "${var.name_prefix}-ingest"
    transform = "${var.name_prefix}-transform"
  }

  # Each function gets the ELT_* settings its handler requires (lambda_bridge.config), with the
  # same values as the outputs of the same names, and the chunk size, which ingest splits by and
  # the transform re-plans a newer version by: both must agree.
  ingest_environment = {
    ELT_QUEUE_URL                = module.queue.queue_url
    ELT_IDEMPOTENCY_TABLE        = module.idempotency.table_name
    ELT_CHUNK_BYTES              = tostring(var.chunk_bytes)
    POWERTOOLS_SERVICE_NAME      = "elt-ingest"
    POWERTOOLS_METRICS_NAMESPACE = "ELT"
    POWERTOOLS_LOG_LEVEL         = "INFO"
  }

  transform_environment = {
    ELT_SILVER_BUCKET            = module.storage.silver_bucket
    ELT_CHUNK_BYTES              = tostring(var.chunk_bytes)
    POWERTOOLS_SERVICE_NAME      = "elt-transform"
    POWERTOOLS_METRICS_NAMESPACE = "ELT"
    POWERTOOLS_LOG_LEVEL         = "INFO"
  }

  # What lambda_bridge.ingest does: Powertools idempotency records in DynamoDB (put, get,
  # update, delete), one SendMessage per object; Lambda sends failed async events to the
  # failure queue with the same role.
  ingest_policy_statements = [
    {
      sid       = "SendPointerMessages"
      actions   = ["sqs:SendMessage"]
      resources = [module.queue.queue_arn, module.queue.ingest_failures_queue_arn]
    },
    {
      sid       = "IdempotencyRecords"
      actions   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      resources = [module.idempotency.table_arn]
    },
    {
      sid       = "UseDataKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [module.kms.key_arn]
    },
  ]

  # What lambda_bridge.transform / process does: read the bronze object version (and head it
  # to check it is current), read the `_index/` record, write or delete silver, quarantine,
  # manifest and index objects (a large quarantine file as a multipart upload); the event
  # source mapping polls the queue with this role.
  transform_policy_statements = [
    {
      sid       = "PollEventsQueue"
      actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
      resources = [module.queue.queue_arn]
    },
    {
      # Without ListBucket S3 answers a missing key with 403 instead of 404, and the transform
      # would retry a deleted object (or a first-seen key's absent index) until the DLQ.
      sid       = "ListForNotFound"
      actions   = ["s3:ListBucket"]
      resources = [module.storage.bronze_bucket_arn, module.storage.silver_bucket_arn]
    },
    {
      sid       = "ReadBronzeObjects"
      actions   = ["s3:GetObject", "s3:GetObjectVersion"]
      resources = ["${module.storage.bronze_bucket_arn}/bronze/*"]
    },
    {
      sid       = "ReadIndex"
      actions   = ["s3:GetObject"]
      resources = ["${module.storage.silver_bucket_arn}/_index/*"]
    },
    {
      sid     = "WriteOutputs"
      actions = ["s3:DeleteObject", "s3:PutObject"]
      resources = [
        "${module.storage.silver_bucket_arn}/silver/*",
        "${module.storage.silver_bucket_arn}/quarantine/*",
        "${module.storage.silver_bucket_arn}/_manifests/*",
        "${module.storage.silver_bucket_arn}/_index/*",
      ]
    },
    {
      # A quarantine file over one part (8 MiB), and a streamed object's silver and quarantine
      # files, are multipart uploads, aborted if a part fails or time runs out.
      sid     = "AbortOutputUploads"
      actions = ["s3:AbortMultipartUpload"]
      resources = [
        "${module.storage.silver_bucket_arn}/silver/*",
        "${module.storage.silver_bucket_arn}/quarantine/*",
      ]
    },
    {
      sid       = "UseDataKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [module.kms.key_arn]
    },
  ]
}

module "kms" {
  source = "../../modules/kms"

  alias       = var.name_prefix
  description = "Encrypts the ${var.name_prefix} ELT buckets, queues, table, logs, alarm topic and warehouse."
  log_group_prefixes = [
    "/aws/lambda/${var.name_prefix}-",
    "/aws/rds/instance/${local.warehouse_identifier}/",
    "/aws/kinesisfirehose/${var.name_prefix}-",
  ]
}

module "storage" {
  source = "../../modules/storage"

  name_prefix   = var.name_prefix
  kms_key_arn   = module.kms.key_arn
  force_destroy = var.force_destroy
}

module "queue" {
  source = "../../modules/queue"

  name                          = "${var.name_prefix}-events"
  kms_key_arn                   = module.kms.key_arn
  consumer_timeout_seconds      = var.transform_timeout_seconds
  visibility_timeout_seconds    = var.queue_visibility_timeout_seconds
  message_retention_seconds     = var.queue_retention_seconds
  dlq_message_retention_seconds = var.dlq_retention_seconds
  max_receive_count             = var.max_receive_count
}

module "idempotency" {
  source = "../../modules/idempotency"

  name        = "${var.name_prefix}-idempotency"
  kms_key_arn = module.kms.key_arn
  # Powertools' DynamoDBPersistenceLayer attributes, as lambda_bridge.ingest names them
  # (IDEMPOTENCY_KEY_ATTR, IDEMPOTENCY_TTL_ATTR); a test compares them.
  hash_key      = "id"
  ttl_attribute = "expiration"
}

module "ingest_function" {
  source = "../../modules/lambda"

  function_name      = local.function_names.ingest
  description        = "S3 ObjectCreated on bronze -> one pointer message per object on the events queue."
  handler            = "lambda_bridge.ingest.handler"
  runtime            = var.lambda_runtime
  architecture       = var.lambda_architecture
  zip_path           = local.ingest_zip
  artifacts_bucket   = module.storage.artifacts_bucket
  timeout            = var.ingest_timeout_seconds
  memory_size        = var.ingest_memory_mb
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  policy_statements  = local.ingest_policy_statements
  environment        = local.ingest_environment
}

module "transform_function" {
  source = "../../modules/lambda"

  function_name      = local.function_names.transform
  description        = "SQS pointer messages -> silver Parquet, quarantine and manifests."
  handler            = "lambda_bridge.transform.handler"
  runtime            = var.lambda_runtime
  architecture       = var.lambda_architecture
  zip_path           = local.transform_zip
  artifacts_bucket   = module.storage.artifacts_bucket
  timeout            = var.transform_timeout_seconds
  memory_size        = var.transform_memory_mb
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  policy_statements  = local.transform_policy_statements
  environment        = local.transform_environment
}

module "ingest_trigger" {
  source = "../../modules/ingest_trigger"

  function_name              = module.ingest_function.function_name
  function_arn               = module.ingest_function.function_arn
  bucket_name                = module.storage.bronze_bucket
  bucket_arn                 = module.storage.bronze_bucket_arn
  filter_prefix              = "bronze/"
  on_failure_destination_arn = module.queue.ingest_failures_queue_arn
  maximum_retry_attempts     = var.ingest_max_retry_attempts
}

module "transform_trigger" {
  source = "../../modules/transform_trigger"

  queue_arn                          = module.queue.queue_arn
  function_name                      = module.transform_function.function_name
  batch_size                         = var.transform_batch_size
  maximum_batching_window_in_seconds = var.transform_batching_window_seconds
  maximum_concurrency                = var.transform_max_concurrency
}

module "landings" {
  source = "../../modules/landings"

  name          = "${var.name_prefix}-landings"
  bucket_name   = module.storage.silver_bucket
  bucket_arn    = module.storage.silver_bucket_arn
  filter_prefix = "_manifests/"
}

module "catalog" {
  source = "../../modules/catalog"

  database_name         = replace("${var.name_prefix}_silver", "-", "_")
  workgroup_name        = var.name_prefix
  datasets              = local.glue_datasets
  gold_database_name    = replace("${var.name_prefix}_gold", "-", "_")
  current_datasets      = local.current_datasets
  gold_tables           = var.gold_tables
  silver_bucket         = module.storage.silver_bucket
  kms_key_arn           = module.kms.key_arn
  projection_date_range = var.projection_date_range
  force_destroy         = var.force_destroy
}

module "observability" {
  source = "../../modules/observability"

  name_prefix                          = var.name_prefix
  kms_key_arn                          = module.kms.key_arn
  queue_name                           = module.queue.queue_name
  dlq_name                             = module.queue.dlq_name
  ingest_failures_queue_name           = module.queue.ingest_failures_queue_name
  function_names                       = local.function_names
  oldest_message_age_threshold_seconds = var.oldest_message_age_threshold_seconds
  alarm_email_addresses                = var.alarm_email_addresses
}

module "stream" {
  source   = "../../modules/stream"
  for_each = toset(var.stream_datasets)

  name                       = "${var.name_prefix}-${each.key}-stream"
  dataset                    = each.key
  bronze_bucket_arn          = module.storage.bronze_bucket_arn
  kms_key_arn                = module.kms.key_arn
  buffering_size_mb          = var.stream_buffering_size_mb
  buffering_interval_seconds = var.stream_buffering_interval_seconds
}

module "events" {
  source = "../../modules/events"

  name             = "${var.name_prefix}-partition-events"
  kms_key_arn      = module.kms.key_arn
  example_consumer = var.events_example_consumer
}

module "dagster_iam" {
  source = "../../modules/dagster_iam"

  policy_name           = "${var.name_prefix}-dagster"
  bronze_bucket_arn     = module.storage.bronze_bucket_arn
  silver_bucket_arn     = module.storage.silver_bucket_arn
  queue_arn             = module.queue.queue_arn
  dlq_arn               = module.queue.dlq_arn
  landings_queue_arn    = module.landings.queue_arn
  idempotency_table_arn = module.idempotency.table_arn
  kms_key_arn           = module.kms.key_arn
  warehouse_secret_arn  = one(module.warehouse[*].master_secret_arn)
  events_topic_arn      = module.events.topic_arn
  alerts_topic_arn      = module.observability.topic_arn
}

# The VPC, its private subnets and the Dagster tasks' security group are not managed by this
# repository: they are inputs, and the module refuses to plan without real ones.
module "warehouse" {
  source = "../../modules/warehouse"
  count  = var.warehouse_enabled ? 1 : 0

  identifier               = local.warehouse_identifier
  engine_version           = var.warehouse_engine_version
  instance_class           = var.warehouse_instance_class
  kms_key_arn              = module.kms.key_arn
  vpc_id                   = var.warehouse_vpc_id
  subnet_ids               = var.warehouse_subnet_ids
  client_security_group_id = var.warehouse_client_security_group_id
  multi_az                 = var.warehouse_multi_az
  backup_retention_days    = var.warehouse_backup_retention_days
  deletion_protection      = var.warehouse_deletion_protection
  skip_final_snapshot      = var.warehouse_skip_final_snapshot
  log_retention_days       = var.log_retention_days
}
