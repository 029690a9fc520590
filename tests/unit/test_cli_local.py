"""``anemonefish local up``: what it refuses before it starts anything."""

from __future__ import annotations

import os
import socket

import pytest

from anemonefish_services.cli import main


@pytest.mark.parametrize("flag", ["--port", "--moto-port"])
def test_a_port_in_use_is_one_error_line_naming_the_flag(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["local", "up", "--api-key", "k", flag, str(port)]
        if flag == "--moto-port":
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind(("127.0.0.1", 0))
                args += ["--port", str(probe.getsockname()[1])]  # free once the probe closes
        assert main(args) == 1
    assert capsys.readouterr().err == f"error: port {port} on 127.0.0.1 is in use; choose another with {flag}\n"


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_local_worker_takes_the_batches_the_environments_deploy(environment: str) -> None:
    """The local stack mirrors AWS: with batches of 10 locally, a job could sit late in batch after
    batch and reach the DLQ with no error of its own, which no deployed worker (batch 1) does."""
    import re
    from pathlib import Path

    from anemonefish_services.local.stack import WORKER_BATCH_SIZE

    main_tf = (Path(__file__).resolve().parents[2] / "infra" / "environments" / environment / "main.tf").read_text()
    deployed = re.search(r"^\s*worker_batch_size\s*=\s*(\d+)", main_tf, re.MULTILINE)
    assert deployed is not None and int(deployed.group(1)) == WORKER_BATCH_SIZE


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--port", "70000"], {}, "error: --port: 70000 is not a port (1-65535)"),
    (["--port", "8384", "--moto-port", "8384"], {}, "error: --moto-port: the API and the AWS emulator need ports of their own"),
    ([], {"ANEMONEFISH_API_KEYS": "{ka:x}"}, "error: ANEMONEFISH_API_KEYS: Value error, not JSON (Expecting property name"),
    ([], {"ANEMONEFISH_API_KEYS": '["ka"]'}, "error: ANEMONEFISH_API_KEYS: Value error, not a JSON object of {api key: tenant id}"),
    (["--existing"], {}, "error: --existing serves resources the environment names, and ANEMONEFISH_AWS_ENDPOINT_URL"),
])
def test_options_and_settings_it_cannot_start_with_are_one_line_each(
    args: list[str], env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ANEMONEFISH_API_KEYS", "ANEMONEFISH_AWS_ENDPOINT_URL", "ANEMONEFISH_JOBS_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["local", "up", "--api-key", "k", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err


def test_real_credentials_found_in_a_profile_are_never_replaced(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment's keys would outrank a ~/.aws profile boto3 would otherwise use."""
    from anemonefish_services.local.moto_server import ensure_local_credentials

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    shared = tmp_path / "credentials"
    shared.write_text("[default]\naws_access_key_id = AKIAREAL\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    ensure_local_credentials()
    assert "AWS_ACCESS_KEY_ID" not in os.environ
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    ensure_local_credentials()
    assert os.environ["AWS_ACCESS_KEY_ID"] == "local"  # nothing found: moto's made-up ones


def test_a_model_the_worker_cannot_load_stops_the_stack_before_it_serves(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped ANEMONEFISH_MODEL_DIR logged one traceback, then the stack served: the API took
    jobs, GET /health said ok, and every job stayed QUEUED for a worker that had not started."""
    from anemonefish_services.local.moto_server import free_port

    for name in ("ANEMONEFISH_API_KEYS", "ANEMONEFISH_AWS_ENDPOINT_URL", "ANEMONEFISH_JOBS_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANEMONEFISH_MODEL_DIR", str(tmp_path / "reef-bundel"))
    port = free_port()
    assert main(["local", "up", "--api-key", "k", "--port", str(port)]) == 2
    assert capsys.readouterr().err == (f"error: the worker's model: {tmp_path / 'reef-bundel'}: not a model bundle "
                                       "folder (no such folder) (ANEMONEFISH_MODEL_DIR names it; unset, the shipped one)\n")
    with socket.socket() as probe:  # nothing left serving
        probe.bind(("127.0.0.1", port))
