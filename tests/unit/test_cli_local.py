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
