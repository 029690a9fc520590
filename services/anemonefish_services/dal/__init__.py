"""Data access: the jobs table (conditional state transitions) and the S3 buckets."""
