"""Fixtures shared by every suite (helpers live in tests/support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import REAL_WAV, build_tiny_bundle


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    return build_tiny_bundle(tmp_path_factory.mktemp("tiny_bundle"))


@pytest.fixture(scope="session")
def real_wav() -> Path:
    if not REAL_WAV.exists():
        pytest.fail(f"the real recording is missing: {REAL_WAV} (the repo expects ../shared beside it)")
    return REAL_WAV
