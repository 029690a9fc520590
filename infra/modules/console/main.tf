# The browser console: static files in a private bucket, served only through CloudFront
# (origin access control signs CloudFront's requests; the bucket policy admits nothing else).
data "aws_partition" "current" {}

locals {
  partition    = data.aws_partition.current.partition
  bucket_name  = "${var.name_prefix}-console${var.bucket_name_suffix}"
  account_root = "arn:${local.partition}:iam::${var.account_id}:root"
}

# Own key: its policy must name the distribution, which itself depends on the bucket.
resource "aws_kms_key" "console" {
  description             = "${var.name_prefix}: console files"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_in_days
  tags                    = var.tags
}

# Key and bucket policies use jsonencode: see modules/kms (root kms:* and the TLS deny s3:*
# are the only wildcard actions, and the compliance rules check policy documents).
locals {
  key_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EnableIamPoliciesOfThisAccount"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "AllowThisDistributionToDecrypt"
        Effect    = "Allow"
        Principal = { Service = "cloudfront.amazonaws.com" }
        Action    = "kms:Decrypt"
        Resource  = "*"
        Condition = { StringEquals = { "AWS:SourceArn" = aws_cloudfront_distribution.console.arn } }
      },
    ]
  }

  bucket_arn = "arn:${local.partition}:s3:::${local.bucket_name}"

  bucket_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllowThisDistributionToRead"
        Effect    = "Allow"
        Principal = { Service = "cloudfront.amazonaws.com" }
        Action    = "s3:GetObject"
        Resource  = "${local.bucket_arn}/*"
        Condition = { StringEquals = { "AWS:SourceArn" = aws_cloudfront_distribution.console.arn } }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  }
}

resource "aws_kms_key_policy" "console" {
  key_id = aws_kms_key.console.id
  policy = jsonencode(local.key_policy)
}

resource "aws_s3_bucket" "console" {
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Role = "console" })
}

resource "aws_s3_bucket_ownership_controls" "console" {
  bucket = aws_s3_bucket.console.bucket

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "console" {
  bucket                  = aws_s3_bucket.console.bucket
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "console" {
  bucket = aws_s3_bucket.console.bucket

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.console.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "console" {
  bucket = aws_s3_bucket.console.bucket

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "console" {
  bucket = aws_s3_bucket.console.bucket

  rule {
    id     = "expire-replaced-files"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_upload_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.console]
}

resource "aws_cloudfront_origin_access_control" "console" {
  name                              = "${var.name_prefix}-console"
  description                       = "CloudFront access to the ${local.bucket_name} bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "console" {
  name    = "${var.name_prefix}-console-security-headers"
  comment = "Security headers of the browser console"

  security_headers_config {
    content_type_options {
      override = true
    }

    frame_options {
      frame_option = "DENY"
      override     = true
    }

    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }

    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }

    xss_protection {
      mode_block = true
      protection = true
      override   = true
    }
  }
}

locals {
  origin_id = "console-bucket"
  # AWS managed cache policy "CachingOptimized".
  caching_optimized_policy_id = "658327ea-f89d-4fab-a63d-7e88639e58f6"
}

resource "aws_cloudfront_distribution" "console" {
  enabled             = true
  comment             = "${var.name_prefix} browser console"
  default_root_object = "index.html"
  price_class         = var.price_class
  http_version        = "http2and3"

  origin {
    origin_id                = local.origin_id
    domain_name              = aws_s3_bucket.console.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.console.id
  }

  default_cache_behavior {
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_optimized_policy_id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.console.id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }

  tags = var.tags
}

resource "aws_s3_bucket_policy" "console" {
  bucket = aws_s3_bucket.console.bucket
  policy = jsonencode(local.bucket_policy)

  depends_on = [aws_s3_bucket_public_access_block.console]
}

# --- the console's files -------------------------------------------------------------------

locals {
  content_types = {
    html = "text/html; charset=utf-8"
    js   = "text/javascript; charset=utf-8"
    css  = "text/css; charset=utf-8"
    json = "application/json"
    png  = "image/png"
    svg  = "image/svg+xml"
    ico  = "image/x-icon"
    md   = "text/markdown; charset=utf-8"
  }
  # config.js is written below with this deployment's API URL, never copied.
  static_files = var.static_dir == null ? toset([]) : setsubtract(fileset(var.static_dir, "**"), ["config.js"])
}

resource "aws_s3_object" "static" {
  for_each = local.static_files

  bucket       = aws_s3_bucket.console.bucket
  key          = each.value
  source       = "${var.static_dir}/${each.value}"
  source_hash  = filemd5("${var.static_dir}/${each.value}")
  content_type = lookup(local.content_types, reverse(split(".", each.value))[0], "application/octet-stream")
  # Revalidated on every load (a 304 while unchanged): CloudFront's cache policy would
  # otherwise keep serving the old app.js for a day after an upgrade.
  cache_control = "no-cache"
  kms_key_id    = aws_kms_key.console.arn
  tags          = var.tags
}

resource "aws_s3_object" "config" {
  bucket        = aws_s3_bucket.console.bucket
  key           = "config.js"
  content_type  = local.content_types.js
  cache_control = "no-cache"
  kms_key_id    = aws_kms_key.console.arn
  content       = <<-EOT
    // Written by Terraform (infra/modules/console): this deployment's settings.
    export default {
      apiBaseUrl: ${jsonencode(var.api_base_url)},
      otherApis: ${jsonencode(var.other_api_urls)},
      concurrentParts: ${var.concurrent_parts},
      pollIntervalS: ${var.poll_interval_seconds},
    };
  EOT
  tags          = var.tags
}
