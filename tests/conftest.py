"""Fixtures shared by every suite (helpers live in tests/support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import REAL_WAV, build_tiny_bundle
from webhook_receiver import Receiver


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    return build_tiny_bundle(tmp_path_factory.mktemp("tiny_bundle"))


@pytest.fixture(scope="session")
def real_wav() -> Path:
    if not REAL_WAV.exists():
        pytest.fail(f"the real recording is missing: {REAL_WAV} (the repo expects ../shared beside it)")
    return REAL_WAV


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch):
    """Credentials boto3 needs before an in-process moto mock answers (never real ones)."""
    def use(region: str) -> None:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": region}.items():
            monkeypatch.setenv(name, value)
    return use


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (tests/webhook_receiver.py)."""
    server = Receiver()
    yield server
    server.close()
