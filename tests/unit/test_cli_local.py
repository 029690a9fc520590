"""``anemonefish local up``: what it refuses before it starts anything."""

from __future__ import annotations

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
