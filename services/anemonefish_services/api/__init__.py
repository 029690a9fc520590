"""The API Lambda (REST API Gateway proxy integration)."""
