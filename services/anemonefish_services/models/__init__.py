"""Pydantic models: the job record stored in DynamoDB and the HTTP API's requests and responses."""
