"""The sweeper Lambda (scheduled): uploads that never arrived end ``EXPIRED``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.dal.storage import Storage
from anemonefish_services.logic.expire import expire_overdue_uploads
from anemonefish_services.observability import logger, metrics
from anemonefish_services.settings import get_settings


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    expired = expire_overdue_uploads(settings=settings, repo=JobsRepository(settings), storage=Storage(settings))
    return {"expired": expired}
