output "bronze_bucket" {
  description = "Name of the bronze bucket (ELT_BRONZE_BUCKET)."
  value       = aws_s3_bucket.this["bronze"].id
}

output "bronze_bucket_arn" {
  description = "ARN of the bronze bucket."
  value       = aws_s3_bucket.this["bronze"].arn
}

output "silver_bucket" {
  description = "Name of the silver bucket (ELT_SILVER_BUCKET)."
  value       = aws_s3_bucket.this["silver"].id
}

output "silver_bucket_arn" {
  description = "ARN of the silver bucket."
  value       = aws_s3_bucket.this["silver"].arn
}

output "artifacts_bucket" {
  description = "Name of the bucket holding the Lambda deployment packages."
  value       = aws_s3_bucket.this["artifacts"].id
}

output "access_logs_bucket" {
  description = "Name of the bucket receiving the S3 server access logs."
  value       = aws_s3_bucket.access_logs.id
}
