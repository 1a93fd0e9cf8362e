data "aws_caller_identity" "current" {}

# New manifests in silver, as S3 notifications, for Dagster's landings sensor: a sensor tick
# reads only what landed since the last tick instead of listing the bucket.
resource "aws_sqs_queue" "this" {
  name                      = var.name
  message_retention_seconds = var.message_retention_seconds
  # SQS-managed keys: S3 can deliver to such a queue without a grant in the CMK's key policy.
  sqs_managed_sse_enabled = true
  tags                    = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "SilverBucketNotifies"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.this.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.bucket_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.this.json
}

# A bucket has exactly one notification configuration: this resource owns the silver bucket's.
resource "aws_s3_bucket_notification" "this" {
  bucket = var.bucket_name

  queue {
    id            = "manifest-created"
    queue_arn     = aws_sqs_queue.this.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = var.filter_prefix
  }

  depends_on = [aws_sqs_queue_policy.this]
}
