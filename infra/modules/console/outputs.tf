output "bucket_name" {
  description = "Bucket holding the console files (aws s3 sync the static folder here)."
  value       = aws_s3_bucket.console.id
}

output "distribution_id" {
  description = "CloudFront distribution id (for cache invalidations after an upload)."
  value       = aws_cloudfront_distribution.console.id
}

output "domain_name" {
  description = "Domain name serving the console."
  value       = aws_cloudfront_distribution.console.domain_name
}

output "origin" {
  description = "Browser origin of the console (add to CORS origins)."
  value       = "https://${aws_cloudfront_distribution.console.domain_name}"
}
