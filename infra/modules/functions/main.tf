# The functions of the pipeline, each with its own least-privilege role: every statement
# names its actions and the resources (ARNs) it may touch.
data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition

  names = {
    api     = "${var.name_prefix}-api"
    worker  = "${var.name_prefix}-worker"
    dlq     = "${var.name_prefix}-dlq-consumer"
    sweeper = "${var.name_prefix}-sweeper"
    # Delivers the webhooks the others queue when jobs end, on capacity of its own.
    webhooks = "${var.name_prefix}-webhook-sender"
  }

  log_group_arns = {
    for key, name in local.names :
    key => "arn:${local.partition}:logs:${var.region}:${var.account_id}:log-group:/aws/lambda/${name}"
  }

  # Every setting the typed settings model reads (docs/architecture.md); Terraform is the
  # single source of these values in AWS.
  # The tunables first: the settings below, wired and checked by the module, win over them.
  common_environment = merge(
    { for key, value in var.app_settings : "ANEMONEFISH_${upper(key)}" => value },
    {
      ANEMONEFISH_ENV                = var.environment
      ANEMONEFISH_INPUT_BUCKET       = var.input_bucket_name
      ANEMONEFISH_OUTPUT_BUCKET      = var.output_bucket_name
      ANEMONEFISH_JOBS_TABLE         = var.jobs_table_name
      ANEMONEFISH_JOBS_QUEUE_URL     = var.jobs_queue_url
      ANEMONEFISH_DLQ_URL            = var.dlq_url
      ANEMONEFISH_TOPIC_ARN          = var.topic_arn
      ANEMONEFISH_WEBHOOKS_QUEUE_URL = var.webhooks_queue_url
      ANEMONEFISH_AUTH_MODE          = var.auth_mode
      ANEMONEFISH_CORS_ORIGINS       = join(",", var.cors_origins)
      POWERTOOLS_SERVICE_NAME        = "anemonefish"
      POWERTOOLS_METRICS_NAMESPACE   = "Anemonefish"
      POWERTOOLS_LOG_LEVEL           = var.log_level

      # Lifetimes the code must agree with: a job record's (its results are reachable only
      # through it), a queue message's (the sweeper re-drives a QUEUED job before it goes).
      ANEMONEFISH_JOB_TTL_DAYS           = tostring(var.job_ttl_days)
      ANEMONEFISH_JOBS_QUEUE_RETENTION_S = tostring(var.jobs_queue_retention_seconds)
    },
  )

  environments = {
    # The API tells each tenant its webhook secret (GET /webhook-secret); it and the other
    # finishers deliver a webhook themselves when the webhooks queue cannot take it (logic.notify).
    api = merge(local.common_environment, {
      ANEMONEFISH_API_KEYS       = jsonencode(var.static_api_keys)
      ANEMONEFISH_WEBHOOK_SECRET = var.webhook_secret
    })
    worker = merge(local.common_environment, {
      ANEMONEFISH_WEBHOOK_SECRET = var.webhook_secret
      # BLAS threads would otherwise compete with the inference runtime for the vCPUs.
      OPENBLAS_NUM_THREADS = "1"
      OMP_NUM_THREADS      = "1"
      MKL_NUM_THREADS      = "1"
    })
    dlq = merge(local.common_environment, {
      ANEMONEFISH_WEBHOOK_SECRET = var.webhook_secret
    })
    sweeper = merge(local.common_environment, {
      ANEMONEFISH_WEBHOOK_SECRET = var.webhook_secret
    })
    webhooks = merge(local.common_environment, {
      ANEMONEFISH_WEBHOOK_SECRET = var.webhook_secret
    })
  }

  input_uploads_arn  = "${var.input_bucket_arn}/${var.upload_prefix}*"
  output_results_arn = "${var.output_bucket_arn}/${var.result_prefix}*"
}

# --- roles ---------------------------------------------------------------------------

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.names

  name               = each.value
  description        = "Execution role of the ${each.value} function"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

# With s3:ListBucket a missing upload is a 404 (upload_missing, or the API's 400 on a
# repeated complete) instead of a 403 that is retried as transient until the DLQ. The API,
# the worker and the sweeper each look uploads up.
data "aws_iam_policy_document" "tell_missing_uploads" {
  statement {
    sid       = "TellMissingUploads"
    actions   = ["s3:ListBucket"]
    resources = [var.input_bucket_arn]
  }
}

data "aws_iam_policy_document" "api" {
  source_policy_documents = [data.aws_iam_policy_document.tell_missing_uploads.json]

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arns.api}:*"]
  }

  statement {
    sid       = "ReadWriteJobs"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [var.jobs_table_arn]
  }

  statement {
    sid       = "ListJobs" # GET /jobs queries the listing index only
    actions   = ["dynamodb:Query"]
    resources = [var.jobs_listing_index_arn]
  }

  # Presigned PUT / multipart URLs carry this role's authority: it must be allowed to upload.
  statement {
    sid = "PresignAndManageUploads"
    actions = [
      "s3:PutObject",
      "s3:GetObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = [local.input_uploads_arn]
  }

  statement {
    sid       = "PresignResultDownloads"
    actions   = ["s3:GetObject"]
    resources = [local.output_results_arn]
  }

  # A job cancelled after a worker ran it keeps no documents an attempt wrote (logic.results).
  statement {
    sid       = "DiscardResultsOfCancelledJobs"
    actions   = ["s3:DeleteObject"]
    resources = [local.output_results_arn]
  }

  statement {
    sid       = "AnnounceCancelledJobs"
    actions   = ["sns:Publish"]
    resources = [var.topic_arn]
  }

  statement {
    sid       = "QueueWebhooksOfCancelledJobs"
    actions   = ["sqs:SendMessage"]
    resources = [var.webhooks_queue_arn]
  }

  statement {
    sid       = "UseEnvironmentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

data "aws_iam_policy_document" "worker" {
  source_policy_documents = [data.aws_iam_policy_document.tell_missing_uploads.json]

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arns.worker}:*"]
  }

  statement {
    sid = "ConsumeJobsQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [var.jobs_queue_arn]
  }

  # The worker pins the object version its HEAD saw on every ranged GET (one consistent
  # object however long the read); on the versioned input bucket a GET that names a version
  # needs s3:GetObjectVersion, without which every job failed with 403.
  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.input_uploads_arn]
  }

  # The recording of a job cancelled (or expired) rather than analysed is deleted (logic.results).
  statement {
    sid       = "DeleteUploadsOfEndedJobs"
    actions   = ["s3:DeleteObject"]
    resources = [local.input_uploads_arn]
  }

  statement {
    sid = "WriteResults"
    # One put_object a document; delete_objects takes them back from a job cancelled while
    # they were being written.
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = [local.output_results_arn]
  }

  statement {
    sid       = "UpdateJobs"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [var.jobs_table_arn]
  }

  statement {
    sid       = "AnnounceTerminalStates"
    actions   = ["sns:Publish"]
    resources = [var.topic_arn]
  }

  statement {
    sid       = "QueueWebhooks"
    actions   = ["sqs:SendMessage"]
    resources = [var.webhooks_queue_arn]
  }

  statement {
    sid       = "UseEnvironmentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arns.dlq}:*"]
  }

  statement {
    sid = "ConsumeDeadLetterQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
    ]
    resources = [var.dlq_arn]
  }

  statement {
    sid       = "FailJobs"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [var.jobs_table_arn]
  }

  # A dead letter whose worker died is re-driven to the jobs queue (logic.dlq).
  statement {
    sid       = "RedriveLostJobs"
    actions   = ["sqs:SendMessage"]
    resources = [var.jobs_queue_arn]
  }

  # A job given up keeps no result documents an earlier attempt wrote (logic.results).
  statement {
    sid       = "DiscardResultsOfFailedJobs"
    actions   = ["s3:DeleteObject"]
    resources = [local.output_results_arn]
  }

  statement {
    sid       = "AnnounceFailedJobs"
    actions   = ["sns:Publish"]
    resources = [var.topic_arn]
  }

  statement {
    sid       = "QueueWebhooksOfFailedJobs"
    actions   = ["sqs:SendMessage"]
    resources = [var.webhooks_queue_arn]
  }

  statement {
    sid       = "UseEnvironmentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

data "aws_iam_policy_document" "sweeper" {
  source_policy_documents = [data.aws_iam_policy_document.tell_missing_uploads.json]

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arns.sweeper}:*"]
  }

  statement {
    sid       = "ExpireJobs"
    actions   = ["dynamodb:UpdateItem"] # conditional updates return the new record: no reads
    resources = [var.jobs_table_arn]
  }

  # Overdue uploads and stalled jobs are found by querying the sparse open-jobs index.
  statement {
    sid       = "FindOpenJobs"
    actions   = ["dynamodb:Query"]
    resources = [var.jobs_open_index_arn]
  }

  # A stalled job's upload event is sent to the jobs queue again (logic.stalled).
  statement {
    sid       = "RedriveStalledJobs"
    actions   = ["sqs:SendMessage"]
    resources = [var.jobs_queue_arn]
  }

  statement {
    sid       = "AbortAbandonedUploads"
    actions   = ["s3:AbortMultipartUpload"]
    resources = [local.input_uploads_arn]
  }

  # An overdue job whose upload is there after all is queued, not expired (logic.expire):
  # HeadObject needs GetObject, and ListBucket makes a missing upload a 404, not a 403.
  statement {
    sid       = "NoticeArrivedUploads"
    actions   = ["s3:GetObject"]
    resources = [local.input_uploads_arn]
  }

  # A stalled job given up keeps no result documents its lost worker wrote (logic.results).
  statement {
    sid       = "DiscardResultsOfFailedJobs"
    actions   = ["s3:DeleteObject"]
    resources = [local.output_results_arn]
  }

  statement {
    sid       = "AnnounceExpiredJobs"
    actions   = ["sns:Publish"]
    resources = [var.topic_arn]
  }

  statement {
    sid       = "QueueWebhooksOfEndedJobs"
    actions   = ["sqs:SendMessage"]
    resources = [var.webhooks_queue_arn]
  }

  statement {
    sid       = "UseEnvironmentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

data "aws_iam_policy_document" "webhooks" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arns.webhooks}:*"]
  }

  statement {
    sid = "ConsumeWebhooksQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
    ]
    resources = [var.webhooks_queue_arn]
  }

  # The job's receiver, status and result summary are read from its record when it is sent.
  statement {
    sid       = "ReadJobs"
    actions   = ["dynamodb:GetItem"]
    resources = [var.jobs_table_arn]
  }

  statement {
    sid       = "UseEnvironmentKey"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

locals {
  policies = {
    api      = data.aws_iam_policy_document.api.json
    worker   = data.aws_iam_policy_document.worker.json
    dlq      = data.aws_iam_policy_document.dlq.json
    sweeper  = data.aws_iam_policy_document.sweeper.json
    webhooks = data.aws_iam_policy_document.webhooks.json
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = local.names

  name   = "${each.value}-least-privilege"
  role   = aws_iam_role.this[each.key].id
  policy = local.policies[each.key]
}

# --- log groups (created here so retention and encryption are ours, not Lambda's defaults) ---

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# --- functions -----------------------------------------------------------------------

locals {
  functions = {
    api = {
      image       = var.api_image_uri
      handler     = var.api_handler
      memory      = var.api_memory_mb
      timeout     = var.api_timeout_seconds
      concurrency = var.api_reserved_concurrency
      storage     = var.small_ephemeral_storage_mb
      description = "HTTP API: jobs, presigned uploads, results"
    }
    worker = {
      image       = var.worker_image_uri
      handler     = var.worker_handler
      memory      = var.worker_memory_mb
      timeout     = var.worker_timeout_seconds
      concurrency = var.worker_reserved_concurrency
      storage     = var.worker_ephemeral_storage_mb
      description = "Detection worker: consumes the jobs queue"
    }
    dlq = {
      image       = var.api_image_uri
      handler     = var.dlq_handler
      memory      = var.dlq_memory_mb
      timeout     = var.dlq_timeout_seconds
      concurrency = var.dlq_reserved_concurrency
      storage     = var.small_ephemeral_storage_mb
      description = "Fails the jobs whose messages reached the dead-letter queue"
    }
    sweeper = {
      image       = var.api_image_uri
      handler     = var.sweeper_handler
      memory      = var.dlq_memory_mb
      timeout     = var.sweeper_timeout_seconds
      concurrency = var.sweeper_reserved_concurrency
      storage     = var.small_ephemeral_storage_mb
      description = "Expires jobs whose upload never arrived"
    }
    webhooks = {
      image       = var.api_image_uri
      handler     = var.webhook_sender_handler
      memory      = var.webhook_sender_memory_mb
      timeout     = var.webhook_sender_timeout_seconds
      concurrency = var.webhook_sender_reserved_concurrency
      storage     = var.small_ephemeral_storage_mb
      description = "Delivers the webhooks queued when jobs end"
    }
  }
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  function_name                  = local.names[each.key]
  description                    = each.value.description
  role                           = aws_iam_role.this[each.key].arn
  package_type                   = "Image"
  image_uri                      = each.value.image
  architectures                  = [var.architecture]
  memory_size                    = each.value.memory
  timeout                        = each.value.timeout
  reserved_concurrent_executions = each.value.concurrency
  kms_key_arn                    = var.kms_key_arn

  image_config {
    command = [each.value.handler]
  }

  ephemeral_storage {
    size = each.value.storage
  }

  environment {
    variables = local.environments[each.key]
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

# --- event sources -------------------------------------------------------------------

resource "aws_lambda_event_source_mapping" "worker" {
  event_source_arn        = var.jobs_queue_arn
  function_name           = aws_lambda_function.this["worker"].arn
  batch_size              = var.worker_batch_size
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.worker_maximum_concurrency
  }

  lifecycle {
    precondition {
      condition     = var.worker_maximum_concurrency <= var.worker_reserved_concurrency
      error_message = "worker_maximum_concurrency must not exceed worker_reserved_concurrency (the surplus would only be throttled)."
    }
  }

  tags = var.tags
}

resource "aws_lambda_event_source_mapping" "dlq" {
  event_source_arn        = var.dlq_arn
  function_name           = aws_lambda_function.this["dlq"].arn
  batch_size              = var.dlq_batch_size
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = max(2, var.dlq_reserved_concurrency) # an SQS event source's least is 2
  }

  tags = var.tags
}

resource "aws_lambda_event_source_mapping" "webhooks" {
  event_source_arn = var.webhooks_queue_arn
  function_name    = aws_lambda_function.this["webhooks"].arn
  # One delivery an invocation: a receiver that never answers delays no other tenant's.
  batch_size              = 1
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = max(2, var.webhook_sender_reserved_concurrency) # an SQS event source's least is 2
  }

  tags = var.tags
}

# --- schedule of the sweeper -------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "sweeper" {
  name                = local.names.sweeper
  description         = "Runs ${local.names.sweeper}: jobs whose upload never arrived end EXPIRED"
  schedule_expression = var.sweeper_schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "sweeper" {
  rule = aws_cloudwatch_event_rule.sweeper.name
  arn  = aws_lambda_function.this["sweeper"].arn
}

resource "aws_lambda_permission" "sweeper" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["sweeper"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweeper.arn
}
