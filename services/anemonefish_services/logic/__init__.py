"""Business logic: one function per use case, free of HTTP and SQS shapes."""
