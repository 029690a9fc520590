"""The webhook sender Lambda: delivers the webhooks queued when jobs end (logic/notify.py).

Its own function, queue and concurrency: a receiver that never answers holds a sender for a
delivery's 30 s, not the API's cancel or a worker. A message it could not deliver comes back
after the queue's visibility timeout, and after the queue's maxReceiveCount goes to its
dead-letter queue, where it stays for inspection (an alarm watches it). Light: no detection
code is imported.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.logic.notify import send_queued_webhook
from anemonefish_services.observability import job_context, logged_failure, logger, metrics
from anemonefish_services.settings import Settings, get_settings


@functools.cache
def sender_deps() -> tuple[Settings, JobsRepository]:
    settings = get_settings()
    return settings, JobsRepository(settings)


def record_handler(record: SQSRecord) -> None:
    try:
        job_id = json.loads(record.body)["job_id"]
        if not isinstance(job_id, str) or not job_id:
            raise ValueError("job_id is not a string")
    except (ValueError, KeyError, TypeError) as exc:
        logger.error("dropping a message that names no job", extra={"error": str(exc)})
        return
    with logged_failure("the webhook sender cannot start (its settings or clients); SQS delivers the record again"):
        settings, repo = sender_deps()
    with job_context(job_id), logged_failure("webhook not delivered; SQS delivers the record again"):
        send_queued_webhook(job_id, settings, repo)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Every failure a batch item failure: SQS redelivers exactly those messages.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
