output "repository_urls" {
  description = "Repository URLs by short name (docker push <url>:<tag>)."
  value       = { for key, repo in aws_ecr_repository.this : key => repo.repository_url }
}

output "repository_arns" {
  description = "Repository ARNs by short name."
  value       = { for key, repo in aws_ecr_repository.this : key => repo.arn }
}
