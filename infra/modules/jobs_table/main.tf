# Job state: one item per job, conditional writes for every transition. On-demand capacity
# because the load is bursty (a researcher drops a folder of recordings at once).
resource "aws_dynamodb_table" "jobs" {
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = var.hash_key
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = var.hash_key
    type = "S"
  }

  attribute {
    name = var.listing_index_hash_key
    type = "S"
  }

  attribute {
    name = var.listing_index_range_key
    type = "S"
  }

  attribute {
    name = var.open_index_hash_key
    type = "S"
  }

  attribute {
    name = var.open_index_range_key
    type = "S"
  }

  global_secondary_index {
    name            = var.listing_index_name
    hash_key        = var.listing_index_hash_key
    range_key       = var.listing_index_range_key
    projection_type = "ALL"
  }

  # Sparse: only items carrying the hash key (active jobs) are in it, so the sweeper's
  # periodic queries cost the live jobs, not every job kept until its TTL.
  global_secondary_index {
    name            = var.open_index_name
    hash_key        = var.open_index_hash_key
    range_key       = var.open_index_range_key
    projection_type = "ALL"
  }

  ttl {
    attribute_name = var.ttl_attribute
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
