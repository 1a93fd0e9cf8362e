output "queue_url" {
  description = "URL of the events queue (ELT_QUEUE_URL)."
  value       = aws_sqs_queue.this.id
}

output "queue_arn" {
  description = "ARN of the events queue."
  value       = aws_sqs_queue.this.arn
}

output "queue_name" {
  description = "Name of the events queue."
  value       = aws_sqs_queue.this.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue (ELT_DLQ_URL)."
  value       = aws_sqs_queue.dlq.id
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "ingest_failures_queue_url" {
  description = "URL of the queue receiving failed asynchronous ingest invocations."
  value       = aws_sqs_queue.ingest_failures.id
}

output "ingest_failures_queue_arn" {
  description = "ARN of the queue receiving failed asynchronous ingest invocations."
  value       = aws_sqs_queue.ingest_failures.arn
}

output "ingest_failures_queue_name" {
  description = "Name of the queue receiving failed asynchronous ingest invocations."
  value       = aws_sqs_queue.ingest_failures.name
}
