"""What the worker-side handlers share per process: settings, clients and one detector per thread."""

from __future__ import annotations

import functools
import threading

from anemonefish.detect import Detector
from anemonefish.model import load_bundle

from anemonefish_services import aws
from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.dal.storage import Storage
from anemonefish_services.logic.process_job import WorkerDeps
from anemonefish_services.settings import get_settings

_local = threading.local()


def thread_detector() -> Detector:
    """The model is loaded once per thread and kept (cold start only): a LiteRT interpreter is
    not thread-safe, and the local stack may run several workers in threads, as AWS runs
    several Lambda instances."""
    detector = getattr(_local, "detector", None)
    if detector is None:
        detector = _local.detector = Detector(load_bundle())
    return detector


@functools.cache
def worker_deps() -> WorkerDeps:
    settings = get_settings()
    return WorkerDeps(
        settings=settings,
        repo=JobsRepository(settings),
        storage=Storage(settings),
        detector=thread_detector,
        sns_client=aws.client("sns", settings) if settings.topic_arn else None,
    )


@functools.cache
def sqs_client():  # type: ignore[no-untyped-def]
    return aws.client("sqs", get_settings())
