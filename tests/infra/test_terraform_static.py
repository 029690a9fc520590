"""terraform fmt and validate: every module and environment is well-formed."""

from __future__ import annotations

from typing import Any

import pytest
from infra_helpers import INFRA, run, terraform_bin

pytestmark = pytest.mark.infra


def test_terraform_files_are_formatted() -> None:
    proc = run([terraform_bin(), "fmt", "-check", "-recursive", "-diff", "-no-color", str(INFRA)], check=False)
    assert proc.returncode == 0, f"run `terraform fmt -recursive infra`:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("env_name", ["local", "dev", "prod"])
def test_environment_validates(env_name: str, initialized: Any) -> None:
    env_dir = initialized(env_name)
    proc = run([terraform_bin(), "validate", "-no-color", "-json"], cwd=env_dir, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"valid": true' in proc.stdout
