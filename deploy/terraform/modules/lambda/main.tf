data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumesTheRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# One role per function: a function can do only what its own statements allow.
resource "aws_iam_role" "this" {
  name                 = var.function_name
  description          = "Execution role of the ${var.function_name} Lambda."
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "this" {
  # The log group is created here, so the function needs no logs:CreateLogGroup.
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # X-Ray has no resource-level permissions: these two actions only accept "*".
  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []

    content {
      sid       = "WriteTraces"
      effect    = "Allow"
      actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.policy_statements

    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions

        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# Through S3: the transform's package is close to (and may exceed) the 50 MB Lambda accepts
# inline. A new version of the object is what makes Lambda pick up new code.
resource "aws_s3_object" "this" {
  bucket                 = var.artifacts_bucket
  key                    = "lambda/${var.function_name}.zip"
  source                 = var.zip_path
  source_hash            = filebase64sha256(var.zip_path)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Failures are routed by the caller, not a function DLQ: the SQS-triggered transform uses the queue's redrive policy, the S3-triggered ingest an on-failure destination (aws_lambda_function_event_invoke_config).
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the caller (the transform by the event source mapping's maximum_concurrency); reserving it fails on accounts with the default quota of 10, so reserved_concurrency is opt-in per environment.
  #checkov:skip=CKV_AWS_117:By design outside a VPC: the functions reach only S3, SQS and DynamoDB over their public TLS endpoints and no private resource.
  #checkov:skip=CKV_AWS_272:Code signing is not set up for the dev environment; the zip is built from the repository by deploy/build.py.
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  s3_bucket                      = aws_s3_object.this.bucket
  s3_key                         = aws_s3_object.this.key
  s3_object_version              = aws_s3_object.this.version_id
  source_code_hash               = filebase64sha256(var.zip_path)
  timeout                        = var.timeout
  memory_size                    = var.memory_size
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = var.tracing_mode
  }

  # The role's policy and the log group must exist before the first invocation can log.
  depends_on = [aws_iam_role_policy.this, aws_cloudwatch_log_group.this]
}
