"""Structured JSON logs (powertools Logger) and CloudWatch EMF metrics (powertools Metrics).

One logger and one metrics object per process, shared by the handlers and the logic. The job
id is attached to every line with thread-local keys, so the local stack's threads do not
mix their jobs' ids.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from anemonefish_services.exceptions import TransientJobError

_SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "anemonefish")
logger = Logger(service=_SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Anemonefish"), service=_SERVICE)

__all__ = ["MetricUnit", "job_context", "logged_failure", "logger", "metrics"]


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    """Every log line inside carries ``job_id``."""
    logger.thread_safe_append_keys(job_id=job_id)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(["job_id"])


@contextmanager
def logged_failure(message: str) -> Iterator[None]:
    """Log what escapes (and let it escape). powertools' batch processor turns a record's
    exception into a batch item failure and logs it at debug level only: a worker whose every
    record failed (a denied S3 call, say) wrote nothing in its logs. A transient wait (a live
    lease, too little time left) is a warning without a trace; anything else an error with one."""
    try:
        yield
    except TransientJobError as exc:
        logger.warning(message, extra={"reason": str(exc)})
        raise
    except Exception:
        logger.exception(message)
        raise
