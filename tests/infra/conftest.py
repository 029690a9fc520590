"""Session fixtures of the infra tests: each environment initialized once, plans made once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import PLAN_VARS, mark_unknowns, run, terraform_bin, terraform_init


@pytest.fixture(scope="session")
def initialized() -> Iterator[Any]:
    """``initialized(env)`` -> the environment's directory, initialized once per session."""
    done: dict[str, Path] = {}

    def init(env_name: str) -> Path:
        if env_name not in done:
            done[env_name] = terraform_init(env_name)
        return done[env_name]

    yield init


@pytest.fixture(scope="session")
def plans(initialized: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``plans(env)`` -> path of the offline plan of dev/prod as JSON, unknowns marked (cached)."""
    cache: dict[str, Path] = {}
    workdir = tmp_path_factory.mktemp("plans")

    def plan(env_name: str) -> Path:
        if env_name not in cache:
            env_dir = initialized(env_name)
            binary = workdir / f"{env_name}.tfplan"
            run([terraform_bin(), "plan", "-input=false", "-no-color", "-lock=false", "-refresh=false",
                 f"-out={binary}", *PLAN_VARS[env_name]], cwd=env_dir)
            shown = run([terraform_bin(), "show", "-json", "-no-color", str(binary)], cwd=env_dir)
            raw = workdir / f"{env_name}.raw.json"
            raw.write_text(shown.stdout)
            cache[env_name] = mark_unknowns(raw, workdir / f"{env_name}.json")
        return cache[env_name]

    yield plan


