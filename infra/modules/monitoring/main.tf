# Alarms that mean "a job may be lost or late", an alarm topic and one dashboard.
resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_email_addresses)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  alarms = {
    # Received, not visible: the DLQ consumer takes each dead letter within seconds (to fail
    # its job and notify), so the queue's depth would read 0 while jobs were being lost.
    dead-letters = {
      description = "Job messages reached the dead-letter queue: jobs failed after every retry."
      namespace   = "AWS/SQS"
      metric      = "NumberOfMessagesReceived"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { QueueName = var.dlq_name }
    }
    # ... and dead letters no consumer takes (its event source disabled or failing) still age.
    dead-letters-unread = {
      description = "A dead letter has waited unread: the DLQ consumer is not taking them, so their jobs are not failed nor notified."
      namespace   = "AWS/SQS"
      metric      = "ApproximateAgeOfOldestMessage"
      statistic   = "Maximum"
      threshold   = var.dlq_oldest_message_age_threshold_seconds
      dimensions  = { QueueName = var.dlq_name }
    }
    jobs-queue-oldest-message-age = {
      description = "The oldest job waited too long: the workers are not keeping up or are failing."
      namespace   = "AWS/SQS"
      metric      = "ApproximateAgeOfOldestMessage"
      statistic   = "Maximum"
      threshold   = var.oldest_message_age_threshold_seconds
      dimensions  = { QueueName = var.jobs_queue_name }
    }
    worker-errors = {
      description = "Worker invocations failed (a crash, a time-out). A job that fails is a batch item failure, not an error: after its retries it reaches the dead-letters alarm."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      statistic   = "Sum"
      threshold   = var.worker_error_threshold
      dimensions  = { FunctionName = var.worker_function_name }
    }
    dlq-consumer-errors = {
      description = "DLQ consumer invocations failed: dead letters may not fail their jobs or notify."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { FunctionName = var.dlq_function_name }
    }
    sweeper-errors = {
      description = "Sweeper invocations failed: stalled jobs may not be re-driven nor expired uploads closed."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { FunctionName = var.sweeper_function_name }
    }
    worker-throttles = {
      description = "Worker invocations were throttled (reserved concurrency too low for the load)."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { FunctionName = var.worker_function_name }
    }
    # Kept there for inspection (nothing consumes it): its depth is the webhooks never delivered.
    undelivered-webhooks = {
      description = "Webhooks reached their dead-letter queue: their receivers refused or missed every try."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      statistic   = "Maximum"
      threshold   = 0
      dimensions  = { QueueName = var.webhooks_dlq_name }
    }
    webhook-sender-errors = {
      description = "Webhook sender invocations failed (a crash, a time-out). A webhook not delivered is a batch item failure, not an error: after its tries it reaches the undelivered-webhooks alarm."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      statistic   = "Sum"
      threshold   = 0
      dimensions  = { FunctionName = var.webhook_sender_function_name }
    }
    api-5xx = {
      description = "The API answered with server errors."
      namespace   = "AWS/ApiGateway"
      metric      = "5XXError"
      statistic   = "Sum"
      threshold   = var.api_5xx_threshold
      dimensions  = { ApiName = var.rest_api_name, Stage = var.api_stage_name }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = var.period_seconds
  evaluation_periods  = var.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix

  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Jobs queue"
          region = var.region
          stat   = "Maximum"
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.jobs_queue_name],
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.jobs_queue_name, { yAxis = "right" }],
            ["AWS/SQS", "NumberOfMessagesReceived", "QueueName", var.dlq_name, { stat = "Sum", label = "dead letters" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "Worker"
          region = var.region
          stat   = "Sum"
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", var.worker_function_name],
            ["AWS/Lambda", "Errors", "FunctionName", var.worker_function_name],
            ["AWS/Lambda", "Throttles", "FunctionName", var.worker_function_name],
            ["AWS/Lambda", "Duration", "FunctionName", var.worker_function_name, { stat = "p95", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "API"
          region = var.region
          stat   = "Sum"
          metrics = [
            ["AWS/ApiGateway", "Count", "ApiName", var.rest_api_name, "Stage", var.api_stage_name],
            ["AWS/ApiGateway", "4XXError", "ApiName", var.rest_api_name, "Stage", var.api_stage_name],
            ["AWS/ApiGateway", "5XXError", "ApiName", var.rest_api_name, "Stage", var.api_stage_name],
            ["AWS/ApiGateway", "Latency", "ApiName", var.rest_api_name, "Stage", var.api_stage_name, { stat = "p95", yAxis = "right" }],
            ["AWS/Lambda", "Errors", "FunctionName", var.api_function_name],
          ]
        }
      },
      {
        type = "alarm", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "Alarms"
          alarms = [for alarm in aws_cloudwatch_metric_alarm.this : alarm.arn]
        }
      },
    ]
  })
}
