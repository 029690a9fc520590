"""Helpers of the infra tests: tools, Terraform runs, plans.

Every test here runs real tools (terraform, terraform-compliance, checkov) in subprocesses.
A missing tool FAILS with the command that installs it: on this machine nothing is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
ENVIRONMENTS = INFRA / "environments"
COMPLIANCE = INFRA / "compliance"
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
TERRAFORM_COMPLIANCE = REPO / ".venv-tfc" / "bin" / "terraform-compliance"
DEFAULT_PLUGIN_DIR = Path("/opt/tf-plugins")

# Values for an offline plan: a fake account, images that need not exist, a dummy secret.
ACCOUNT_ID = "123456789012"
PLAN_VARS: dict[str, list[str]] = {
    env: [
        f"-var=account_id={ACCOUNT_ID}",
        "-var=offline_plan=true",
        f"-var=worker_image_uri={ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com/anemonefish-{env}-worker:test",
        f"-var=api_image_uri={ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com/anemonefish-{env}-api:test",
        "-var=webhook_secret=whsec_dGVzdC1vbmx5LW5vdC1hLXNlY3JldC0zMi1ieXRlcyE=",
    ]
    for env in ("dev", "prod")
}
PLAN_VARS["prod"] += ['-var=api_key_names=["lab"]', '-var=cors_origins=["https://console.example.org"]']


def require(tool: Path | str, install: str) -> str:
    """Path of ``tool``, or fail naming the command that installs it."""
    path = str(tool) if Path(tool).is_absolute() else shutil.which(str(tool))
    if not path or not Path(path).exists():
        pytest.fail(f"{tool} is not installed: run `{install}`", pytrace=False)
    return path


def terraform_bin() -> str:
    return require("terraform", "install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install)")


def plugin_dir() -> Path | None:
    """The offline provider mirror (Makefile's TF_PLUGIN_DIR), if this machine has one."""
    configured = os.environ.get("TF_PLUGIN_DIR")
    for candidate in (Path(configured) if configured else None, DEFAULT_PLUGIN_DIR):
        if candidate is not None and candidate.is_dir():
            return candidate
    return None


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment of every tool run: no telemetry, no real AWS credentials, no metadata service."""
    env = dict(os.environ)
    env.update(
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        TF_CLI_CONFIG_FILE=os.devnull,  # no ~/.terraformrc on this machine: silence the warning
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def run(cmd: Sequence[str], *, cwd: Path = REPO, env: Mapping[str, str] | None = None, timeout: float = 600,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), cwd=cwd, env=dict(env or tool_env()), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(
            f"`{' '.join(cmd)}` (in {cwd}) exited {proc.returncode}\n"
            f"--- stdout (tail)\n{proc.stdout[-6000:]}\n--- stderr (tail)\n{proc.stderr[-4000:]}",
            pytrace=False,
        )
    return proc


def _needs_init(env_dir: Path) -> bool:
    """Init only when .terraform is missing or a file changed since (a root's or a module's:
    a module may call a new module, which init must install)."""
    modules = env_dir / ".terraform" / "modules" / "modules.json"
    providers = env_dir / ".terraform" / "providers"
    if not modules.exists() or not providers.exists():
        return True
    stamp = modules.stat().st_mtime
    return any(tf.stat().st_mtime > stamp for tf in [*env_dir.glob("*.tf"), *(INFRA / "modules").rglob("*.tf")])


def terraform_init(env_name: str) -> Path:
    env_dir = ENVIRONMENTS / env_name
    if _needs_init(env_dir):
        cmd = [terraform_bin(), "init", "-input=false", "-no-color"]
        mirror = plugin_dir()
        if mirror is not None:
            cmd.append(f"-plugin-dir={mirror}")
        run(cmd, cwd=env_dir, timeout=900)
        (env_dir / ".terraform" / "modules" / "modules.json").touch()
    return env_dir


def mark_unknowns(plan_json: Path, target: Path) -> Path:
    """The plan with values known only after apply filled in (see compliance/known_after_apply.py)."""
    proc = run([sys.executable, str(COMPLIANCE / "known_after_apply.py"), str(plan_json)])
    target.write_text(proc.stdout)
    return target


def load_plan(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def planned_resources(plan: Mapping[str, Any], resource_type: str | None = None) -> list[dict[str, Any]]:
    """Managed resources of a plan (address, type, values after apply with unknowns marked)."""
    found = []
    for change in plan["resource_changes"]:
        if change["mode"] != "managed" or (resource_type and change["type"] != resource_type):
            continue
        found.append({"address": change["address"], "type": change["type"], "name": change["name"],
                      "values": change["change"]["after"] or {}})
    return found
