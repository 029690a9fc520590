"""The local stack's SQS poller (the stand-in for Lambda's event source mapping)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from anemonefish_services.local.poller import SqsPoller, poll_backoff_s


class _UnreachableThenUp:
    """A queue that refuses ``down`` receives (the emulator restarting), then delivers nothing."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.receives = 0
        self.recovered = threading.Event()

    def get_queue_attributes(self, **kwargs: Any) -> dict:
        return {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:q"}}

    def receive_message(self, **kwargs: Any) -> dict:
        self.receives += 1
        if self.receives <= self.down:
            raise ConnectionRefusedError("connection refused")
        self.recovered.set()
        return {}


def test_polls_back_off_while_the_queue_is_unreachable_and_log_once_a_streak(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert [poll_backoff_s(n) for n in (1, 2, 3, 4, 5, 6, 7, 50, 100_000)] == [1, 2, 4, 8, 16, 30, 30, 30, 30]
    queue = _UnreachableThenUp(down=4)
    poller = SqsPoller(queue, "q", lambda event, context: None, function_name="worker", wait_s=0)
    waits: list[float] = []

    def wait(timeout: float | None = None) -> bool:  # the backoff's sleeps, recorded instead of slept
        waits.append(timeout)
        return poller._stop.is_set()

    monkeypatch.setattr(poller._stop, "wait", wait)
    with caplog.at_level(logging.INFO, logger="anemonefish"):
        poller.start()
        assert queue.recovered.wait(10)
        poller.stop()
    assert waits == [1, 2, 4, 8]
    messages = [record.getMessage() for record in caplog.records]
    assert messages.count("polling failed; retrying with backoff") == 1  # not once a failed poll
    assert "polling works again" in messages


def test_a_function_whose_init_fails_does_not_start_and_start_says_why() -> None:
    """A worker that could not load its model logged a traceback and polled on: every job it
    took failed or waited, while the stack looked healthy."""
    from anemonefish.exceptions import ModelBundleError

    queue = _UnreachableThenUp(down=0)

    def init() -> None:
        raise ModelBundleError("reef-bundel: not a model bundle folder (no such folder)")

    poller = SqsPoller(queue, "q", lambda event, context: None, function_name="worker", wait_s=0, init=init)
    with pytest.raises(ModelBundleError, match="reef-bundel"):
        poller.start()
    poller._thread.join(5)
    assert not poller._thread.is_alive() and queue.receives == 0  # it took no message
    loaded = SqsPoller(queue, "q", lambda event, context: None, function_name="worker", wait_s=0, init=lambda: None)
    assert loaded.start() is loaded
    loaded.stop()
