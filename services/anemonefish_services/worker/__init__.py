"""The worker Lambda (SQS jobs queue), the DLQ consumer and the upload sweeper."""
