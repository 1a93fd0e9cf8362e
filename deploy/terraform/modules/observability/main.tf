data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name

  queues = {
    events          = var.queue_name
    dlq             = var.dlq_name
    ingest_failures = var.ingest_failures_queue_name
  }

  # Custom metrics the handlers emit with Powertools (namespace ELT, dimension service).
  pipeline_metrics = [
    ["ELT", "ObjectsEnqueued", "service", "ingest"],
    ["ELT", "DuplicateDeliveries", "service", "ingest"],
    ["ELT", "UnknownDatasetKeys", "service", "ingest"],
    ["ELT", "ObjectsProcessed", "service", "transform"],
    ["ELT", "ObjectsSkipped", "service", "transform"],
  ]
  row_metrics = [
    ["ELT", "RowsOut", "service", "transform"],
    ["ELT", "RowsQuarantined", "service", "transform"],
  ]
}

resource "aws_sns_topic" "this" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_email_addresses)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}

# Anything in the DLQ is a message the transform gave up on: someone should look, then redrive.
resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  alarm_name          = "${var.name_prefix}-dlq-not-empty"
  alarm_description   = "Messages in ${var.dlq_name}: inspect them (elt where / elt status), fix the cause, then run the dlq_redrive job."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.dlq_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "ingest_failures_not_empty" {
  alarm_name          = "${var.name_prefix}-ingest-failures-not-empty"
  alarm_description   = "S3 notifications the ingest Lambda failed on every retry are waiting in ${var.ingest_failures_queue_name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.ingest_failures_queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
  tags                = var.tags
}

# The hot path is falling behind (or stopped): the oldest message keeps getting older.
resource "aws_cloudwatch_metric_alarm" "queue_oldest_message" {
  alarm_name          = "${var.name_prefix}-queue-oldest-message"
  alarm_description   = "The oldest message in ${var.queue_name} is older than ${var.oldest_message_age_threshold_seconds} s: the transform is failing, throttled or disabled."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = var.queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.oldest_message_age_threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = var.function_names

  alarm_name          = "${var.name_prefix}-${each.key}-errors"
  alarm_description   = "The ${each.value} Lambda returned errors (failed invocations, not quarantined rows)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  for_each = var.function_names

  alarm_name          = "${var.name_prefix}-${each.key}-throttles"
  alarm_description   = "The ${each.value} Lambda was throttled (account or reserved concurrency exhausted)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix

  dashboard_body = jsonencode({
    widgets = [
      {
        type   = "metric"
        x      = 0
        y      = 0
        width  = 12
        height = 6
        properties = {
          title   = "Queue depth"
          region  = local.region
          view    = "timeSeries"
          stat    = "Maximum"
          period  = 60
          metrics = [for q in values(local.queues) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 0
        width  = 12
        height = 6
        properties = {
          title   = "Age of the oldest message (s)"
          region  = local.region
          view    = "timeSeries"
          stat    = "Maximum"
          period  = 60
          metrics = [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.queue_name]]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 6
        width  = 12
        height = 6
        properties = {
          title  = "Lambda invocations, errors, throttles"
          region = local.region
          view   = "timeSeries"
          stat   = "Sum"
          period = 300
          metrics = flatten([
            for f in values(var.function_names) : [
              ["AWS/Lambda", "Invocations", "FunctionName", f],
              ["AWS/Lambda", "Errors", "FunctionName", f],
              ["AWS/Lambda", "Throttles", "FunctionName", f],
            ]
          ])
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 6
        width  = 12
        height = 6
        properties = {
          title   = "Lambda duration p95 (ms)"
          region  = local.region
          view    = "timeSeries"
          stat    = "p95"
          period  = 300
          metrics = [for f in values(var.function_names) : ["AWS/Lambda", "Duration", "FunctionName", f]]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 12
        width  = 12
        height = 6
        properties = {
          title   = "Objects"
          region  = local.region
          view    = "timeSeries"
          stat    = "Sum"
          period  = 300
          metrics = local.pipeline_metrics
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 12
        width  = 12
        height = 6
        properties = {
          title   = "Rows out and quarantined"
          region  = local.region
          view    = "timeSeries"
          stat    = "Sum"
          period  = 300
          metrics = local.row_metrics
        }
      },
      {
        type   = "alarm"
        x      = 0
        y      = 18
        width  = 24
        height = 4
        properties = {
          title = "Alarms"
          alarms = concat(
            [
              aws_cloudwatch_metric_alarm.dlq_not_empty.arn,
              aws_cloudwatch_metric_alarm.ingest_failures_not_empty.arn,
              aws_cloudwatch_metric_alarm.queue_oldest_message.arn,
            ],
            [for a in aws_cloudwatch_metric_alarm.lambda_errors : a.arn],
            [for a in aws_cloudwatch_metric_alarm.lambda_throttles : a.arn],
          )
        }
      },
    ]
  })
}
