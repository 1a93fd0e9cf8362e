output "queue_url" {
  description = "URL of the landings queue (ELT_LANDINGS_QUEUE_URL)."
  value       = aws_sqs_queue.this.id
}

output "queue_arn" {
  description = "ARN of the landings queue."
  value       = aws_sqs_queue.this.arn
}
