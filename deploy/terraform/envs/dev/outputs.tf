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
