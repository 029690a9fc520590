# Terminal job states (SUCCEEDED, FAILED, CANCELLED, EXPIRED) are published here; users
# subscribe queues, e-mail or HTTPS endpoints. Webhooks are sent by the worker directly.
data "aws_partition" "current" {}

locals {
  subscriber_principals = [
    for account in concat([var.account_id], var.subscriber_account_ids) :
    "arn:${data.aws_partition.current.partition}:iam::${account}:root"
  ]
}

resource "aws_sns_topic" "job_events" {
  name              = var.topic_name
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "job_events" {
  # No statement for the pipeline's own roles: in one account their identity policies
  # (modules/functions) suffice, and a role ARN here turns stale when the role is replaced.
  statement {
    sid       = "AllowSubscriptions"
    actions   = ["sns:Subscribe", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic"]
    resources = [aws_sns_topic.job_events.arn]

    principals {
      type        = "AWS"
      identifiers = local.subscriber_principals
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish", "sns:Subscribe"]
    resources = [aws_sns_topic.job_events.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "job_events" {
  arn    = aws_sns_topic.job_events.arn
  policy = data.aws_iam_policy_document.job_events.json
}
