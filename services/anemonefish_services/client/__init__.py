"""Client of the HTTP API: create jobs, upload through presigned URLs, poll, fetch results."""
