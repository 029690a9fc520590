"""One local stack per test session: a real moto server over HTTP on a free 127.0.0.1 port,
the resources created as the Terraform local environment names them, the API handler behind
the HTTP front, the worker polling SQS -- and the real model."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import soundfile as sf

TEST_KEYS = {"key-a": "tenant-a", "key-b": "tenant-b", "key-pages": "tenant-pages", "key-cli": "tenant-cli"}
PART_MIN = 64 * 1024


def _model_available() -> bool:
    from anemonefish.model import DEFAULT_BUNDLE

    bundle = Path(os.environ.get("ANEMONEFISH_MODEL_DIR") or DEFAULT_BUNDLE)
    return (bundle / "card.json").is_file()


@dataclass
class Pipeline:
    api_url: str
    endpoint_url: str
    stack: Any
    events_queue_url: str  # an SQS queue subscribed to the SNS topic: every notification lands here
    receiver: Any  # loopback webhook receiver
    sns_seen: list[dict[str, Any]]

    def call(self, method: str, path: str, key: str | None = "key-a", **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if key is not None:
            headers["x-api-key"] = key
        return requests.request(method, f"{self.api_url}{path}", headers=headers, timeout=30, **kwargs)

    def boto(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name="us-east-1",
                            config=Config(signature_version="s3v4") if service == "s3" else None)

    def wait_for(self, job_id: str, statuses: set[str], key: str = "key-a", timeout_s: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            job = self.call("GET", f"/jobs/{job_id}", key=key).json()
            if job.get("status") in statuses:
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not reach {statuses}: {job}")

    def notifications_for(self, job_id: str, settle_s: float = 1.5) -> list[dict[str, Any]]:
        """SNS messages about ``job_id`` (drains the subscribed queue into ``sns_seen``)."""
        sqs = self.boto("sqs")
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            for m in sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10,
                                         WaitTimeSeconds=0, MessageAttributeNames=["All"]).get("Messages", []):
                envelope = json.loads(m["Body"])
                self.sns_seen.append(envelope)
                sqs.delete_message(QueueUrl=self.events_queue_url, ReceiptHandle=m["ReceiptHandle"])
            time.sleep(0.1)
        return [e for e in self.sns_seen if json.loads(e["Message"])["data"]["job_id"] == job_id]

    def queue_drained(self, timeout_s: float = 30) -> None:
        sqs = self.boto("sqs")
        url = self.stack.env["ANEMONEFISH_JOBS_QUEUE_URL"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            if int(attrs["ApproximateNumberOfMessages"]) == 0 and int(attrs["ApproximateNumberOfMessagesNotVisible"]) == 0:
                return
            time.sleep(0.3)
        raise AssertionError("the jobs queue did not drain")

    def upload_put(self, created: dict[str, Any], data: bytes) -> None:
        upload = created["upload"]
        assert upload["method"] == "PUT"
        response = requests.put(upload["url"], data=data, headers=upload["headers"], timeout=60)
        assert response.status_code == 200, response.text

    def submit_bytes(self, filename: str, data: bytes, key: str = "key-a", **body: Any) -> str:
        created = self.call("POST", "/jobs", key=key, json={"filename": filename, "size_bytes": len(data), **body})
        assert created.status_code == 201, created.text
        self.upload_put(created.json(), data)
        return created.json()["job_id"]


# The stack's teardown, so it can run as soon as the last integration test is done: its
# threads would otherwise keep polling during later tests -- and an in-process moto mock
# (``mock_aws``) in those tests would route their AWS calls to the mock's same-named queues.
_TEARDOWN: list[Any] = []


def _teardown_stack() -> None:
    while _TEARDOWN:
        _TEARDOWN.pop()()


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if nextitem is None or Path(__file__).parent not in Path(nextitem.path).parents:
        _teardown_stack()


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    if not _model_available():
        pytest.fail("no model bundle (shared/anemonefish/models/default or ANEMONEFISH_MODEL_DIR)")
    saved_environ = dict(os.environ)  # local_up configures the handlers through os.environ
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ["ANEMONEFISH_API_KEYS"] = json.dumps(TEST_KEYS)
    from anemonefish_services.local.moto_server import free_port
    from anemonefish_services.local.resources import QueueSettings
    from anemonefish_services.local.stack import local_up
    from anemonefish_services.local.webhook_receiver import WebhookReceiver

    secret = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLWludGVncmF0aW9uLXRlc3Rz"
    stack = local_up(
        port=free_port(),
        part_min_size=PART_MIN,
        queue=QueueSettings(visibility_timeout_s=3, max_receive_count=3),
        extra_env={
            "ANEMONEFISH_API_KEYS": json.dumps(TEST_KEYS),
            "ANEMONEFISH_WEBHOOK_SECRET": secret,
            "ANEMONEFISH_MULTIPART_THRESHOLD_BYTES": str(512 * 1024),
            "ANEMONEFISH_MULTIPART_PART_BYTES": str(128 * 1024),
            "ANEMONEFISH_LEASE_S": "5",
            "ANEMONEFISH_PROGRESS_INTERVAL_S": "0.2",
            "ANEMONEFISH_WORKER_SAFETY_MARGIN_S": "1",
        },
        sweep_interval_s=3600,
    )
    from anemonefish_services.notifications import tenant_webhook_secret

    # The tests' webhooks are asked for with the default key: the receiver holds its tenant's secret.
    receiver = WebhookReceiver(tenant_webhook_secret(secret, TEST_KEYS["key-a"])).start()
    import boto3

    sqs = boto3.client("sqs", endpoint_url=stack.endpoint_url, region_name="us-east-1")
    sns = boto3.client("sns", endpoint_url=stack.endpoint_url, region_name="us-east-1")
    events_url = sqs.create_queue(QueueName="test-job-events")["QueueUrl"]
    events_arn = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=stack.env["ANEMONEFISH_TOPIC_ARN"], Protocol="sqs", Endpoint=events_arn)
    def teardown() -> None:
        receiver.stop()
        stack.stop()
        os.environ.clear()
        os.environ.update(saved_environ)  # later tests see the environment they started with
        from anemonefish_services.settings import get_settings

        get_settings.cache_clear()

    _TEARDOWN.append(teardown)
    try:
        yield Pipeline(stack.api_url, stack.endpoint_url or "", stack, events_url, receiver, [])
    finally:
        _teardown_stack()


def make_wav(duration_s: float, sample_rate: int = 16000, seed: int = 0) -> bytes:
    """A short synthetic reef recording with calls (the library's own generator), as WAV bytes."""
    import io

    from anemonefish.synth import SynthConfig, synthesize

    scape = synthesize(SynthConfig(duration_s=duration_s, sample_rate=sample_rate), seed=seed)
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(scape.signal, dtype=np.float32), sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def wav_factory():  # type: ignore[no-untyped-def]
    return make_wav


@pytest.fixture(scope="session")
def short_wav() -> bytes:
    return make_wav(12.0)


@pytest.fixture(scope="session")
def medium_wav() -> bytes:
    return make_wav(30.0, seed=1)  # ~960 KB: above the test multipart threshold
