# The upper-case outputs are the environment of DESIGN §5: export them to point `dagster dev`
# or the `elt` CLI at this deployment.
output "AWS_REGION" {
  description = "Region of the deployment."
  value       = var.region
}

output "ELT_BRONZE_BUCKET" {
  description = "Bucket producers write bronze/<dataset>/... objects into."
  value       = module.storage.bronze_bucket
}

output "ELT_SILVER_BUCKET" {
  description = "Bucket of silver Parquet, quarantine, manifests and Athena results."
  value       = module.storage.silver_bucket
}

output "ELT_QUEUE_URL" {
  description = "URL of the events queue (ingest -> transform)."
  value       = module.queue.queue_url
}

output "ELT_DLQ_URL" {
  description = "URL of the events queue's dead-letter queue."
  value       = module.queue.dlq_url
}

output "ELT_IDEMPOTENCY_TABLE" {
  description = "Name of the ingest idempotency table."
  value       = module.idempotency.table_name
}

output "ELT_LANDINGS_QUEUE_URL" {
  description = "URL of the queue of new-manifest notifications (Dagster's landings sensor)."
  value       = module.landings.queue_url
}

# The warehouse (DESIGN §10), null when warehouse_enabled is false. The URL carries no
# password: the Dagster side reads it from the secret.
output "ELT_STREAMS" {
  description = "The Kinesis stream of each streamed dataset, as dataset=stream pairs (elt stream put)."
  value       = join(",", [for dataset, s in module.stream : "${dataset}=${s.stream_name}"])
}

output "stream_producer_policy_arns" {
  description = "Per streamed dataset, the IAM policy a producer needs to put records."
  value       = { for dataset, s in module.stream : dataset => s.producer_policy_arn }
}

output "ELT_EVENTS_TOPIC_ARN" {
  description = "SNS topic of partition_ready events, which Dagster publishes when a partition passes its checks."
  value       = module.events.topic_arn
}

output "ELT_ALERTS_TOPIC_ARN" {
  description = "SNS topic of alerts: the CloudWatch alarms and failed quality gates."
  value       = module.observability.topic_arn
}

output "events_consumer_queue_url" {
  description = "The example queue subscribed to the partition_ready topic."
  value       = module.events.consumer_queue_url
}

output "ELT_WAREHOUSE_URL" {
  description = "postgresql:// URL of the warehouse database, with the master user name and no password."
  value       = one([for w in module.warehouse : "postgresql://${w.master_username}@${w.endpoint}:${w.port}/${w.db_name}?sslmode=require"])
}

output "ELT_WAREHOUSE_SECRET_ARN" {
  description = "Secrets Manager secret (managed by RDS) holding the warehouse's master user name and password."
  value       = one(module.warehouse[*].master_secret_arn)
}

output "warehouse_endpoint" {
  description = "Host name of the warehouse instance."
  value       = one(module.warehouse[*].endpoint)
}

output "warehouse_port" {
  description = "Port of the warehouse."
  value       = one(module.warehouse[*].port)
}

output "warehouse_db_name" {
  description = "Database of the warehouse."
  value       = one(module.warehouse[*].db_name)
}

output "warehouse_security_group_id" {
  description = "Security group of the warehouse instance."
  value       = one(module.warehouse[*].security_group_id)
}

output "gold_glue_database" {
  description = "Glue database holding one gold table per model and per <dataset>_current."
  value       = module.catalog.gold_database_name
}

output "ingest_failures_queue_url" {
  description = "URL of the queue holding S3 events the ingest Lambda failed on every retry."
  value       = module.queue.ingest_failures_queue_url
}

output "ingest_function_name" {
  description = "Name of the ingest Lambda."
  value       = module.ingest_function.function_name
}

output "transform_function_name" {
  description = "Name of the transform Lambda."
  value       = module.transform_function.function_name
}

output "glue_database" {
  description = "Glue database holding one silver table per dataset."
  value       = module.catalog.database_name
}

output "athena_workgroup" {
  description = "Athena workgroup to query silver with (results go to the silver bucket, encrypted)."
  value       = module.catalog.workgroup_name
}

output "dagster_policy_arn" {
  description = "IAM policy to attach to the role the Dagster deployment runs as."
  value       = module.dagster_iam.policy_arn
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify; subscribe to it."
  value       = module.observability.topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = module.observability.dashboard_name
}

output "kms_key_arn" {
  description = "KMS key encrypting the buckets, queues, table and logs (producers need kms:GenerateDataKey on it)."
  value       = module.kms.key_arn
}
