# A queue a Lambda consumes and its dead-letter queue. The jobs queue (fed by S3
# ObjectCreated events of the input bucket): a message that keeps failing lands in the DLQ
# after max_receive_count deliveries, where the DLQ consumer fails its job, so no job is ever
# lost or stuck. The webhooks queue (the functions queue a finished job's webhook): the
# webhook sender consumes it, and a delivery that keeps failing is kept in its DLQ.
data "aws_partition" "current" {}

locals {
  # Known at plan time (from the name), so the redrive policy can be checked before apply.
  queue_arn_prefix = "arn:${data.aws_partition.current.partition}:sqs:${var.region}:${var.account_id}"
  queue_arn        = "${local.queue_arn_prefix}:${var.queue_name}"
  dlq_arn          = "${local.queue_arn_prefix}:${var.queue_name}-dlq"

  # Lambda may hold a batch for its whole timeout per delivery (plus retries of the poller).
  visibility_timeout_seconds = var.consumer_timeout_seconds * var.visibility_timeout_multiplier
  # The DLQ is read by the DLQ consumer, not the worker: its own timeout sets the visibility
  # (a letter it could not settle comes back in minutes, not the jobs queue's 90). Never less
  # than one worker timeout, so a letter left for a job still running under a live lease is
  # looked at again only once that worker must have ended.
  dlq_visibility_timeout_seconds = max(
    var.dlq_consumer_timeout_seconds * var.visibility_timeout_multiplier,
    var.consumer_timeout_seconds,
  )
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${var.queue_name}-dlq"
  message_retention_seconds         = var.dlq_message_retention_seconds
  visibility_timeout_seconds        = local.dlq_visibility_timeout_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_data_key_reuse_period_seconds
  tags                              = merge(var.tags, { Role = "dead-letter-queue" })
}

resource "aws_sqs_queue" "jobs" {
  name                              = var.queue_name
  visibility_timeout_seconds        = local.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = var.receive_wait_time_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_data_key_reuse_period_seconds

  redrive_policy = jsonencode({
    deadLetterTargetArn = local.dlq_arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = merge(var.tags, { Role = var.purpose })

  depends_on = [aws_sqs_queue.dlq]
}

# Only its queue may use the DLQ as its dead-letter target.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  count = var.restrict_dlq_sources ? 1 : 0

  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.jobs.arn]
  })
}

data "aws_iam_policy_document" "jobs" {
  count = var.source_bucket_arn == null ? 0 : 1

  statement {
    sid       = "AllowInputBucketEventsOnly"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.source_bucket_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "jobs" {
  count = var.source_bucket_arn == null ? 0 : 1

  queue_url = aws_sqs_queue.jobs.id
  policy    = data.aws_iam_policy_document.jobs[0].json
}
