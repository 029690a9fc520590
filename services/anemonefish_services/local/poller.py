"""The local Lambda event source mapping: poll an SQS queue, hand batches to a handler as
Lambda-shaped SQS events, delete what succeeded and leave the ``batchItemFailures`` to SQS
(they reappear after their visibility timeout, then go to the DLQ) -- as AWS does."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

from anemonefish_services.local.lambda_context import LocalLambdaContext
from anemonefish_services.observability import logger

Handler = Callable[[dict[str, Any], Any], dict[str, Any] | None]

# While the queue cannot be reached (the emulator stopped or restarting), polls back off from
# 1 s, doubling, to this; the failure is logged once a streak, not once a second.
POLL_BACKOFF_MAX_S = 30.0


def poll_backoff_s(failures: int) -> float:
    """The wait after the ``failures``-th poll failing in a row (1, 2, 4, ... s, at most the cap)."""
    return min(POLL_BACKOFF_MAX_S, 2.0 ** min(max(0, failures - 1), 16))  # no float overflow after days down


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value.get("DataType", "String"),
                    }
                    for name, value in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class SqsPoller:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        *,
        function_name: str,
        timeout_s: float = 900.0,
        batch_size: int = 10,
        wait_s: int = 1,
        region: str = "us-east-1",
        init: Callable[[], Any] | None = None,
    ) -> None:
        self.init = init  # the function's init phase (module-level work of a cold start)
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.function_name = function_name
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.wait_s = wait_s
        self.region = region
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._init_done = threading.Event()
        self._init_error: Exception | None = None
        self.invocations = 0

    def poll_once(self) -> int:
        """Receive one batch and invoke the handler with it; the number of messages."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = sqs_event(messages, self.queue_arn, self.region)
        context = LocalLambdaContext(function_name=self.function_name, timeout_s=self.timeout_s, region=self.region)
        self.invocations += 1
        try:
            response = self.handler(event, context) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception:  # a crashed invocation: the whole batch is retried, as in AWS
            logger.exception("local invocation failed", extra={"function": self.function_name})
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(messages)

    def _run(self) -> None:
        if self.init is not None:
            try:
                self.init()  # in this thread: what it loads (the model) may be the thread's own
            except Exception as exc:  # start() raises it: a function that cannot start serves nothing
                self._init_error = exc
                return
            finally:
                self._init_done.set()
        failures = 0
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    return
                failures += 1
                if failures == 1:
                    logger.exception("polling failed; retrying with backoff", extra={"queue_url": self.queue_url})
                self._stop.wait(poll_backoff_s(failures))
            else:
                if failures:
                    logger.warning("polling works again", extra={"queue_url": self.queue_url, "failed_polls": failures})
                failures = 0

    def start(self) -> SqsPoller:
        """Start polling once the init phase is done; raise what the init raised. A stack whose
        worker could not load its model (a mistyped ANEMONEFISH_MODEL_DIR) logged one traceback,
        then served an API whose jobs stayed QUEUED."""
        self._thread = threading.Thread(target=self._run, name=f"poller-{self.function_name}", daemon=True)
        self._thread.start()
        if self.init is not None:
            self._init_done.wait()
        if self._init_error is not None:
            raise self._init_error
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)


class Periodic:
    """Run ``task`` every ``interval_s`` in a thread (the local stand-in for a schedule)."""

    def __init__(self, task: Callable[[], Any], interval_s: float, name: str) -> None:
        self.task = task
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.task()
            except Exception:
                logger.exception("periodic task failed", extra={"task": self._thread.name})

    def start(self) -> Periodic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
