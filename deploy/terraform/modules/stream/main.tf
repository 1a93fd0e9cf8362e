# A dataset that arrives as a stream (seed 004): producers put records on a Kinesis stream and
# Firehose delivers them to bronze as gzip JSONL objects under the dated prefix, where the
# bronze notification hands them to the hot path unchanged (DESIGN §11).
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  prefix       = "bronze/${var.dataset}/dt=!{timestamp:yyyy-MM-dd}/"
  error_prefix = "${var.error_prefix_root}${var.dataset}/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
  log_group    = "/aws/kinesisfirehose/${var.name}"
}

resource "aws_kinesis_stream" "this" {
  name             = var.name
  retention_period = var.retention_hours
  encryption_type  = "KMS"
  kms_key_id       = var.kms_key_arn
  tags             = var.tags

  stream_mode_details {
    stream_mode = "ON_DEMAND"
  }
}

resource "aws_cloudwatch_log_group" "firehose" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_stream" "delivery" {
  name           = "S3Delivery"
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "firehose" {
  name               = "${var.name}-firehose"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# Read this one stream; write this dataset's bronze prefix and its error prefix; log.
data "aws_iam_policy_document" "firehose" {
  statement {
    sid       = "ReadStream"
    effect    = "Allow"
    actions   = ["kinesis:DescribeStream", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"]
    resources = [aws_kinesis_stream.this.arn]
  }

  statement {
    sid       = "LocateBucket"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [var.bronze_bucket_arn]
  }

  statement {
    sid     = "WriteBronzeObjects"
    effect  = "Allow"
    actions = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    resources = [
      "${var.bronze_bucket_arn}/bronze/${var.dataset}/*",
      "${var.bronze_bucket_arn}/${var.error_prefix_root}${var.dataset}/*",
    ]
  }

  # The stream's records and the bucket's objects are encrypted with the project's key.
  statement {
    sid       = "UseKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "Log"
    effect    = "Allow"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose.arn}:*"]
  }
}

resource "aws_iam_role_policy" "firehose" {
  name   = "${var.name}-firehose"
  role   = aws_iam_role.firehose.id
  policy = data.aws_iam_policy_document.firehose.json
}

resource "aws_kinesis_firehose_delivery_stream" "this" {
  #checkov:skip=CKV_AWS_240:A delivery stream whose source is a Kinesis stream cannot enable server-side encryption (AWS refuses it); the source stream is KMS-encrypted and the objects are written with SSE-KMS under the project's key (kms_key_arn below).
  #checkov:skip=CKV_AWS_241:Same as CKV_AWS_240: no SSE on a Kinesis-sourced delivery stream; records are encrypted in the stream and in S3 with the project's CMK.
  name        = "${var.name}-to-bronze"
  destination = "extended_s3"
  tags        = var.tags

  kinesis_source_configuration {
    kinesis_stream_arn = aws_kinesis_stream.this.arn
    role_arn           = aws_iam_role.firehose.arn
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose.arn
    bucket_arn          = var.bronze_bucket_arn
    prefix              = local.prefix
    error_output_prefix = local.error_prefix
    buffering_size      = var.buffering_size_mb
    buffering_interval  = var.buffering_interval_seconds
    compression_format  = "GZIP"
    # The hot path reads the format from the key: gzip JSONL.
    file_extension = ".jsonl.gz"
    kms_key_arn    = var.kms_key_arn

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose.name
      log_stream_name = aws_cloudwatch_log_stream.delivery.name
    }
  }

  depends_on = [aws_iam_role_policy.firehose]
}

# What a producer needs: put records on this stream (encrypting them with the key).
data "aws_iam_policy_document" "producer" {
  statement {
    sid       = "PutRecords"
    effect    = "Allow"
    actions   = ["kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:PutRecord", "kinesis:PutRecords"]
    resources = [aws_kinesis_stream.this.arn]
  }

  statement {
    sid       = "EncryptRecords"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_policy" "this" {
  name        = "${var.name}-producer"
  description = "Put records on the ${var.dataset} stream (attach to producers and to `elt stream put`)."
  policy      = data.aws_iam_policy_document.producer.json
  tags        = var.tags
}
