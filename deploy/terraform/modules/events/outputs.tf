output "topic_arn" {
  description = "ARN of the partition_ready topic (ELT_EVENTS_TOPIC_ARN)."
  value       = aws_sns_topic.this.arn
}

output "consumer_queue_url" {
  description = "URL of the example consumer queue, or null without one."
  value       = one(aws_sqs_queue.consumer[*].id)
}
