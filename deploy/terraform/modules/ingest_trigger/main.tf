data "aws_caller_identity" "current" {}

# S3 may invoke the function only for this bucket, and only when the bucket is in this account
# (a bucket name can be deleted and re-created elsewhere: source_account closes that gap).
resource "aws_lambda_permission" "this" {
  statement_id   = "AllowBronzeObjectCreated"
  action         = "lambda:InvokeFunction"
  function_name  = var.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = var.bucket_arn
  source_account = data.aws_caller_identity.current.account_id
}

# A bucket has exactly one notification configuration: this resource owns the bronze bucket's.
resource "aws_s3_bucket_notification" "this" {
  bucket = var.bucket_name

  lambda_function {
    id                  = "bronze-object-created"
    lambda_function_arn = var.function_arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = var.filter_prefix
  }

  depends_on = [aws_lambda_permission.this]
}

# S3 invokes asynchronously: Lambda retries a failed event, then hands it to the destination.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = var.function_name
  maximum_retry_attempts       = var.maximum_retry_attempts
  maximum_event_age_in_seconds = var.maximum_event_age_in_seconds

  destination_config {
    on_failure {
      destination = var.on_failure_destination_arn
    }
  }
}
