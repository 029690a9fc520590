"""The time budget of the sweeper and the DLQ consumer: each handles one job after another, each
with a brief notification, and Lambda kills it at its timeout -- a job expired or failed just
before that kill would never be notified. They stop taking new jobs while one job's worst case
still fits."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from anemonefish_services.observability import logger

T = TypeVar("T")

# One job's worst case: a brief webhook (logic.notify.BRIEF_WEBHOOK_POLICY: 8 s of attempts,
# the last of which may take its 3 s connect and 4 s read past that), SNS and two table writes.
ONE_JOB_BUDGET_S = 30.0


def while_time_left(items: Iterable[T], time_left: Callable[[], float] | None, *, what: str) -> Iterator[T]:
    """``items`` until fewer than :data:`ONE_JOB_BUDGET_S` seconds are left (all of them
    without a clock); the rest wait for the next run."""
    for item in items:
        if time_left is not None and time_left() < ONE_JOB_BUDGET_S:
            logger.warning(f"sweep out of time: the remaining {what} wait for the next sweep")
            return
        yield item
