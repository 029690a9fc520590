"""The sweeper Lambda (scheduled): uploads that never arrived end ``EXPIRED``; stalled jobs
(worker and message both lost) are re-driven, or failed after too many re-drives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from anemonefish_services import aws
from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.dal.storage import Storage
from anemonefish_services.logic.expire import expire_overdue_uploads
from anemonefish_services.logic.stalled import redrive_stalled_jobs
from anemonefish_services.observability import logger, metrics
from anemonefish_services.settings import Settings, get_settings


def sweep(settings: Settings, *, repo: JobsRepository | None = None, storage: Storage | None = None,
          sqs: Any | None = None, now: float | None = None,
          time_left: Callable[[], float] | None = None) -> dict[str, list[str]]:
    """One sweep; ``time_left`` (seconds) stops it in time for the job at hand to be notified."""
    repo = repo or JobsRepository(settings)
    storage = storage or Storage(settings)
    # Jobs that lost their worker first: the expiries' webhooks (one after another) must not
    # use up the invocation before them.
    stalled = redrive_stalled_jobs(settings=settings, repo=repo, storage=storage,
                                   sqs=sqs or aws.client("sqs", settings), now=now, time_left=time_left)
    expired = expire_overdue_uploads(settings=settings, repo=repo, storage=storage, now=now, time_left=time_left)
    return {"expired": expired, **stalled}


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[str]]:
    return sweep(get_settings(), time_left=lambda: context.get_remaining_time_in_millis() / 1000)
