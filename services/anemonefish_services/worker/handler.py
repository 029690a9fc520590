"""The worker Lambda: SQS batches of S3 notifications, with partial batch failures.

A record that fails transiently is reported in ``batchItemFailures`` and retried by SQS (and
finally dead-lettered); a permanent failure fails its job and the record succeeds, so one
corrupt file never blocks the queue or the rest of its batch.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from anemonefish_services.dal.storage import job_id_from_key
from anemonefish_services.logic.process_job import Invocation, process_upload
from anemonefish_services.observability import job_context, logged_failure, logger, metrics
from anemonefish_services.worker.deps import sqs_client, worker_deps
from anemonefish_services.worker.events import MalformedMessageError, parse_s3_notification


def _visibility_extender(record: SQSRecord, queue_url: str):  # type: ignore[no-untyped-def]
    def extend(timeout_s: int) -> None:
        try:
            sqs_client().change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=min(timeout_s, 43200)
            )
        except Exception as exc:  # the lease still protects the job; a failed extension is not fatal
            logger.warning("could not extend message visibility", extra={"error": str(exc)})

    return extend


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None, budget_ms: int | None = None) -> None:
    """``budget_ms``: the time the invocation started with. Whether a recording could fit any
    invocation is judged by it, not by what a later record of a batch has left."""
    try:
        uploads = parse_s3_notification(record.body)
    except MalformedMessageError as exc:
        logger.error("dropping a message that is not an S3 notification", extra={"error": str(exc)})
        return
    if not uploads:
        logger.info("no object-created records (e.g. s3:TestEvent)")
    with logged_failure("the worker cannot start (its settings or clients); SQS delivers the record again"):
        deps = worker_deps()
    queue_url = deps.settings.jobs_queue_url
    for upload in uploads:
        job_id = job_id_from_key(upload.key)
        if upload.bucket != deps.settings.input_bucket or job_id is None:
            logger.warning("object outside the upload area; ignored", extra={"bucket": upload.bucket, "key": upload.key})
            continue
        invocation = Invocation(
            remaining_ms=lambda_context.get_remaining_time_in_millis if lambda_context else (lambda: 15 * 60 * 1000),
            budget_ms=budget_ms,
            extend_visibility=_visibility_extender(record, queue_url) if queue_url else None,
            message_id=record.message_id,
        )
        with job_context(job_id):
            with logged_failure("record failed; SQS delivers it again, and dead-letters it after the queue's "
                                "maxReceiveCount"):
                outcome = process_upload(job_id, upload.key, deps, invocation)
            logger.info("record processed", extra={"outcome": outcome.value, "event_name": upload.event_name})


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A processor per invocation: it holds the batch's state (the local stack may run several
    # invocations at once in threads, as AWS runs several instances).
    # Report every failure as a batch item failure (also when all fail) rather than raising:
    # SQS retries exactly those messages either way, and the logs stay about the records.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    handler = partial(record_handler, budget_ms=context.get_remaining_time_in_millis() if context else None)
    return process_partial_response(event=event, record_handler=handler, processor=processor, context=context)
