"""Run the pipeline locally: the API handler behind an HTTP front, the worker and the DLQ
consumer as SQS pollers, and the upload sweeper on a timer.

- :func:`serve_existing` runs against resources that already exist, named by the
  ``ANEMONEFISH_*`` settings (e.g. created by the Terraform ``local`` environment).
- :func:`local_up` starts a moto server, creates the resources (:mod:`.resources`) and then
  calls :func:`serve_existing`.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from anemonefish_services.local.moto_server import MotoServer, ensure_local_credentials
from anemonefish_services.local.resources import QueueSettings, ResourceNames, create_resources

DEFAULT_TENANT = "local-tenant"
# Messages per worker invocation, as the environments' worker_batch_size (infra/environments):
# with 10, a job could sit late in batch after batch, released for want of time each time, and
# reach the DLQ with no error of its own.
WORKER_BATCH_SIZE = 1
# The Lambdas a stack runs, as the functions module names them: each may run in its own
# process, under its own credentials (tests/infra run each as its Terraform role).
FUNCTIONS = frozenset({"api", "worker", "dlq", "sweeper", "webhooks"})


@dataclass
class RunningStack:
    api_url: str
    api_key: str
    env: dict[str, str]
    moto: MotoServer | None = None
    _parts: list[Any] = field(default_factory=list)
    worker: Any = None  # the worker's SQS poller
    new_worker: Any = None  # () -> a fresh, unstarted worker poller (tests replace a "killed" worker)

    @property
    def endpoint_url(self) -> str | None:
        return self.env.get("ANEMONEFISH_AWS_ENDPOINT_URL")

    def stop(self) -> None:
        for part in reversed(self._parts):
            part.stop()
        self._parts.clear()
        if self.moto is not None:
            self.moto.stop()
            self.moto = None

    def __enter__(self) -> RunningStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _quiet_local_warnings() -> None:
    # Locally EMF metrics are disabled; powertools still warns on every empty flush.
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def _apply_env(env: Mapping[str, str]) -> None:
    os.environ.update(env)
    from anemonefish_services.settings import get_settings

    get_settings.cache_clear()  # the handlers read settings once per process: read them afresh


def _parsed_api_keys(configured: str) -> dict[str, str]:
    """``ANEMONEFISH_API_KEYS`` read as the services read it (their settings model's parser)."""
    from anemonefish_services.settings import Settings

    return Settings.model_validate({"api_keys": configured}).api_keys


def serve_existing(
    *,
    port: int = 8080,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
    sweep_interval_s: float = 60.0,
    worker_timeout_s: float = 900.0,
    host: str = "127.0.0.1",
    functions: frozenset[str] = FUNCTIONS,
) -> RunningStack:
    """Serve the API and run the worker, DLQ consumer and sweeper (or those of ``functions``)
    against the EXISTING resources named by the ``ANEMONEFISH_*`` environment (plus ``env``).
    Returns at once."""
    if unknown := set(functions) - FUNCTIONS:
        raise ValueError(f"unknown functions {sorted(unknown)}: choose from {sorted(FUNCTIONS)}")
    ensure_local_credentials()
    _quiet_local_warnings()
    key = api_key or os.environ.get("ANEMONEFISH_API_KEY") or f"local-{secrets.token_urlsafe(12)}"
    # Keys configured by the caller (env or ANEMONEFISH_API_KEYS) stay valid; the printed key is added.
    configured = (env or {}).get("ANEMONEFISH_API_KEYS") or os.environ.get("ANEMONEFISH_API_KEYS") or "{}"
    keys = dict(_parsed_api_keys(configured))
    keys.setdefault(key, DEFAULT_TENANT)
    settings_env = {
        "ANEMONEFISH_AUTH_MODE": "static",
        "ANEMONEFISH_ALLOW_LOOPBACK_WEBHOOKS": "true",
        "ANEMONEFISH_WEBHOOK_SECRET": os.environ.get("ANEMONEFISH_WEBHOOK_SECRET")
        or "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        "OPENBLAS_NUM_THREADS": "1",
        **(env or {}),
        "ANEMONEFISH_API_KEYS": json.dumps(keys),
    }
    _apply_env(settings_env)

    # Imported only now: the handlers build their settings, app and clients from the env above.
    from anemonefish_services import aws
    from anemonefish_services.api.handler import lambda_handler as api_handler
    from anemonefish_services.dal.jobs import JobsRepository
    from anemonefish_services.dal.storage import Storage
    from anemonefish_services.local.http_front import ApiFront
    from anemonefish_services.local.poller import Periodic, SqsPoller
    from anemonefish_services.settings import get_settings
    from anemonefish_services.worker.dlq import lambda_handler as dlq_handler
    from anemonefish_services.worker.deps import thread_detector
    from anemonefish_services.worker.handler import lambda_handler as worker_handler
    from anemonefish_services.worker.sweeper import sweep
    from anemonefish_services.worker.webhook_sender import lambda_handler as webhook_sender
    from anemonefish_services.worker.webhook_sender import sender_deps

    from anemonefish_services.api import handler as api_module
    from anemonefish_services.worker import deps as worker_deps_module

    # Handlers cache their clients per process (as a warm Lambda does): start them afresh
    # against this stack's endpoint, even if this process served another stack before.
    for cached in (api_module._repo, api_module._storage, worker_deps_module.worker_deps, worker_deps_module.sqs_client,
                   sender_deps):
        cached.cache_clear()
    settings = get_settings()
    api_module._repo(), api_module._storage()  # create the API's clients now, not on the first request
    names = ResourceNames(settings.env)
    sqs = aws.client("sqs", settings)
    stack = RunningStack(
        api_url="", api_key=key, env={k: v for k, v in os.environ.items() if k.startswith("ANEMONEFISH_")}
    )
    def new_worker() -> SqsPoller:
        return SqsPoller(
            sqs, settings.jobs_queue_url, worker_handler, function_name=f"{names.prefix}-worker",
            timeout_s=worker_timeout_s, batch_size=WORKER_BATCH_SIZE, region=settings.region,
            init=thread_detector,  # the model, loaded before the first message as a Lambda's init phase does; start() raises its failure
        )

    stack.new_worker = new_worker
    try:
        if "worker" in functions:
            worker = new_worker().start()
            stack._parts.append(worker)
            stack.worker = worker
        if settings.dlq_url and "dlq" in functions:
            stack._parts.append(
                SqsPoller(sqs, settings.dlq_url, dlq_handler, function_name=f"{names.prefix}-dlq-consumer",
                          timeout_s=60, region=settings.region).start()
            )
        if settings.webhooks_queue_url and "webhooks" in functions:
            stack._parts.append(
                # One webhook at a time, as deployed: a receiver that never answers holds no other.
                SqsPoller(sqs, settings.webhooks_queue_url, webhook_sender, function_name=f"{names.prefix}-webhook-sender",
                          timeout_s=60, batch_size=1, region=settings.region).start()
            )
        if "sweeper" in functions:
            repo, storage = JobsRepository(settings), Storage(settings)
            stack._parts.append(
                Periodic(lambda: sweep(settings, repo=repo, storage=storage, sqs=sqs), sweep_interval_s, "sweeper").start()
            )
        if "api" in functions:
            front = ApiFront(port, api_handler, host=host, function_name=f"{names.prefix}-api").start()
            stack._parts.append(front)
            stack.api_url = front.url
    except BaseException:
        stack.stop()
        raise
    return stack


def local_up(
    *,
    port: int = 8080,
    api_key: str | None = None,
    moto_port: int | None = None,
    part_min_size: int | None = None,
    queue: QueueSettings = QueueSettings(),
    extra_env: Mapping[str, str] | None = None,
    sweep_interval_s: float = 60.0,
) -> RunningStack:
    """Start moto on 127.0.0.1, create the local environment's resources, and serve."""
    moto = MotoServer(moto_port, part_min_size=part_min_size).start()
    try:
        names = ResourceNames(os.environ.get("ANEMONEFISH_ENV", "local"))
        env = create_resources(moto.endpoint_url, names=names, queue=queue, region=os.environ["AWS_DEFAULT_REGION"])
        stack = serve_existing(port=port, api_key=api_key, env={**env, **(extra_env or {})}, sweep_interval_s=sweep_interval_s)
    except BaseException:
        moto.stop()
        raise
    stack.moto = moto
    return stack
