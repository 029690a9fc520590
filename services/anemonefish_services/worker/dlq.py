"""The DLQ consumer Lambda: messages that exhausted their retries fail their jobs (``FAILED``),
so no client waits forever."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from anemonefish_services.dal.storage import job_id_from_key
from anemonefish_services.exceptions import WorkerTimeRunningOutError
from anemonefish_services.logic.budget import ONE_JOB_BUDGET_S
from anemonefish_services.logic.dlq import fail_dead_lettered
from anemonefish_services.observability import job_context, logged_failure, logger, metrics
from anemonefish_services.worker.deps import sqs_client, worker_deps
from anemonefish_services.worker.events import MalformedMessageError, parse_s3_notification


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    """One dead letter; powertools passes the invocation's context (by this parameter's name)."""
    if lambda_context is not None and lambda_context.get_remaining_time_in_millis() / 1000 < ONE_JOB_BUDGET_S:
        # Its job failed but not notified when Lambda's timeout hits: this letter comes back instead.
        raise WorkerTimeRunningOutError("too little of the invocation is left to handle this dead letter; SQS delivers it again")
    try:
        uploads = parse_s3_notification(record.body)
    except MalformedMessageError as exc:
        logger.error("dropping a dead letter that is not an S3 notification", extra={"error": str(exc)})
        return
    with logged_failure("the DLQ consumer cannot start (its settings or clients); SQS delivers the record again"):
        deps = worker_deps()
    receive_count = record.attributes.approximate_receive_count
    for upload in uploads:
        job_id = job_id_from_key(upload.key)
        if job_id is None:
            continue
        with job_context(job_id), logged_failure("dead letter not handled; SQS delivers it again"):
            fail_dead_lettered(
                job_id,
                receive_count=int(receive_count) if receive_count else None,
                settings=deps.settings,
                repo=deps.repo,
                storage=deps.storage,
                sqs=sqs_client() if deps.settings.jobs_queue_url else None,
            )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Report every failure as a batch item failure (also when all fail) rather than raising:
    # SQS retries exactly those messages either way, and the logs stay about the records.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
