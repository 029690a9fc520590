"""terraform fmt and validate: every module and environment is well-formed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from infra_helpers import INFRA, PLAN_VARS, run, terraform_bin

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


@pytest.mark.parametrize(("setting", "refusal"), [
    ('-var=app_settings={AUTH_MODE="static"}', "app_settings cannot set ENV, AUTH_MODE"),
    ('-var=app_settings={allow_loopback_webhooks="true", MAX_UPLOAD_BYTES="1"}', "app_settings cannot set ENV, AUTH_MODE"),
    ("-var=webhook_secret=whsec_c2hvcnQtc2VjcmV0", "webhook_secret must be a Standard Webhooks secret"),
])
def test_settings_that_would_pass_the_modules_own_checks_are_refused_by_plan(
    setting: str, refusal: str, initialized: Any
) -> None:
    """app_settings came last in the functions' environment: AUTH_MODE or CORS_ORIGINS there
    overrode the module's (past prod's https-only CORS check), and ALLOW_LOOPBACK_WEBHOOKS let
    webhooks reach the Lambda runtime API's own address."""
    env_dir = initialized("dev")
    proc = run([terraform_bin(), "plan", "-input=false", "-no-color", "-lock=false", "-refresh=false",
                *PLAN_VARS["dev"], setting], cwd=env_dir, check=False)
    said = re.sub(r"[│\s]+", " ", proc.stdout + proc.stderr)
    assert proc.returncode != 0 and refusal in said, said[-2000:]
