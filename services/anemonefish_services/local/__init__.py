"""The local stack: a moto server on 127.0.0.1, the same resources as the Terraform ``local``
environment, the API handler behind a small HTTP front, and the worker as an SQS poller."""
