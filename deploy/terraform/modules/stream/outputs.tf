output "stream_name" {
  description = "Name of the Kinesis stream."
  value       = aws_kinesis_stream.this.name
}

output "stream_arn" {
  description = "ARN of the Kinesis stream."
  value       = aws_kinesis_stream.this.arn
}

output "delivery_stream_name" {
  description = "Name of the Firehose delivery stream into bronze."
  value       = aws_kinesis_firehose_delivery_stream.this.name
}

output "producer_policy_arn" {
  description = "IAM policy that lets a producer put records on the stream."
  value       = aws_iam_policy.this.arn
}
