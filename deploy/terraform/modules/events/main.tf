# partition_ready events for downstream consumers (DESIGN §11): Dagster publishes one when a
# silver partition passes its blocking checks. Consumers subscribe their own queues, Lambdas or
# HTTPS endpoints; one SQS queue is subscribed here as the example and for smoke tests.
resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sqs_queue" "consumer" {
  count = var.example_consumer ? 1 : 0

  name                      = "${var.name}-consumer"
  message_retention_seconds = var.message_retention_seconds
  # SQS-managed keys: SNS can deliver to such a queue without a grant in the CMK's key policy.
  sqs_managed_sse_enabled = true
  tags                    = var.tags
}

data "aws_iam_policy_document" "consumer" {
  count = var.example_consumer ? 1 : 0

  statement {
    sid       = "TopicDelivers"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.consumer[0].arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.this.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "consumer" {
  count = var.example_consumer ? 1 : 0

  queue_url = aws_sqs_queue.consumer[0].id
  policy    = data.aws_iam_policy_document.consumer[0].json
}

resource "aws_sns_topic_subscription" "consumer" {
  count = var.example_consumer ? 1 : 0

  topic_arn = aws_sns_topic.this.arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.consumer[0].arn
  # The consumer reads the event's JSON itself, not SNS's envelope around it.
  raw_message_delivery = true

  depends_on = [aws_sqs_queue_policy.consumer]
}
