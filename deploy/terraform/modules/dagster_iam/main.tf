# What the Dagster control plane does against the deployed pipeline: sense and replay bronze,
# read and write silver (replays, checks, gold), watch the queues, redrive the DLQ, consume the
# landings queue, look up idempotency records (`elt where`), publish partition_ready events and
# gate alerts (DESIGN §11), and read the warehouse's master credentials (DESIGN §10) when there
# is a warehouse.
data "aws_region" "current" {}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ListBronze"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [var.bronze_bucket_arn]
  }

  statement {
    sid       = "ReadBronzeObjects"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.bronze_bucket_arn}/bronze/*"]
  }

  statement {
    sid       = "ListSilver"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.silver_bucket_arn]
  }

  statement {
    sid       = "ReadWriteSilverObjects"
    effect    = "Allow"
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = ["${var.silver_bucket_arn}/*"]
  }

  # A replay writes a quarantine file over one part, and a streamed object's silver and
  # quarantine files, as multipart uploads, aborted on failure.
  statement {
    sid     = "AbortOutputUploads"
    effect  = "Allow"
    actions = ["s3:AbortMultipartUpload"]
    resources = [
      "${var.silver_bucket_arn}/silver/*",
      "${var.silver_bucket_arn}/quarantine/*",
    ]
  }

  statement {
    sid       = "WatchQueues"
    effect    = "Allow"
    actions   = ["sqs:GetQueueAttributes"]
    resources = [var.queue_arn, var.dlq_arn]
  }

  # The queue_depth sensor reads the oldest message's age, which SQS publishes only to
  # CloudWatch. GetMetricStatistics has no resource-level permissions: "*" is the only resource.
  statement {
    sid       = "ReadQueueAge"
    effect    = "Allow"
    actions   = ["cloudwatch:GetMetricStatistics"]
    resources = ["*"]
  }

  # Redrive by StartMessageMoveTask where SQS has it, by receive -> send -> delete elsewhere.
  statement {
    sid    = "RedriveFromDlq"
    effect = "Allow"
    actions = [
      "sqs:CancelMessageMoveTask",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:ListMessageMoveTasks",
      "sqs:ReceiveMessage",
      "sqs:StartMessageMoveTask",
    ]
    resources = [var.dlq_arn]
  }

  # Also what `elt replay --via-queue` and the silver asset's via_queue config send.
  statement {
    sid       = "RedriveToQueue"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [var.queue_arn]
  }

  statement {
    sid       = "ConsumeLandings"
    effect    = "Allow"
    actions   = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
    resources = [var.landings_queue_arn]
  }

  statement {
    sid       = "ReadIdempotencyRecords"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem"]
    resources = [var.idempotency_table_arn]
  }

  # partition_ready when a partition passes its checks; an alert when the quality gate fails.
  statement {
    sid       = "PublishEvents"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [var.events_topic_arn, var.alerts_topic_arn]
  }

  statement {
    sid       = "UseDataKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  # The password of ELT_WAREHOUSE_URL: this one secret, which RDS generates and rotates.
  dynamic "statement" {
    for_each = var.warehouse_secret_arn == null ? [] : [var.warehouse_secret_arn]

    content {
      sid       = "ReadWarehouseSecret"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }

  # The secret is encrypted with the project's key: decrypt it only through Secrets Manager, and
  # only for that secret (Secrets Manager puts the secret's ARN in the encryption context).
  dynamic "statement" {
    for_each = var.warehouse_secret_arn == null ? [] : [var.warehouse_secret_arn]

    content {
      sid       = "DecryptWarehouseSecret"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${data.aws_region.current.name}.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:SecretARN"
        values   = [statement.value]
      }
    }
  }
}

resource "aws_iam_policy" "this" {
  name        = var.policy_name
  description = "Dagster control plane of the ELT pipeline: bronze read, silver read/write, DLQ redrive."
  policy      = data.aws_iam_policy_document.this.json
  tags        = var.tags
}
