"""An embedded moto server on 127.0.0.1 (a real AWS emulator over HTTP, in a thread)."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

DEFAULT_PART_MIN_SIZE = 5 * 1024 * 1024


def free_port(preferred: int = 0) -> int:
    """``preferred`` if it is free on 127.0.0.1, else any free port."""
    for candidate in ((preferred, 0) if preferred else (0,)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As the servers bind (http.server and werkzeug set it): a port a stopped stack left
            # in TIME_WAIT is free to them, while one a server listens on is still refused.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def ensure_local_credentials() -> None:
    """moto accepts any credentials; boto3 needs some. Never overrides real ones: neither the
    environment's nor those boto3 finds elsewhere (a profile in ~/.aws), which the environment's
    would outrank."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # Looked for without boto3's whole chain, whose instance-metadata probe costs seconds off AWS.
    shared = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")).expanduser()
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE") or shared.is_file():
        return
    os.environ["AWS_ACCESS_KEY_ID"] = "local"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "local"


class MotoServer:
    def __init__(self, port: int | None = None, *, part_min_size: int | None = None) -> None:
        self.port = port or free_port()
        if part_min_size is not None:
            # moto reads this when it is first imported; set it before that happens.
            os.environ["S3_UPLOAD_PART_MIN_SIZE"] = str(part_min_size)
        from moto.server import ThreadedMotoServer

        if part_min_size is not None:
            # ... and if moto was imported already (e.g. by in-process unit tests), its S3
            # backend holds the value it read then: set it there too.
            import moto.s3.models
            import moto.settings

            moto.settings.S3_UPLOAD_PART_MIN_SIZE = part_min_size
            moto.s3.models.S3_UPLOAD_PART_MIN_SIZE = part_min_size  # type: ignore[attr-defined]

        import moto.moto_server.werkzeug_app

        # moto answers every Origin with permissive CORS headers unless told not to: any web page
        # the user visits could then read the stack's buckets (security review). The buckets' own
        # CORS rules (resources.py, as Terraform sets them) are what the console needs.
        moto.moto_server.werkzeug_app.DISABLE_GLOBAL_CORS = True  # type: ignore[attr-defined]
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        ensure_local_credentials()
        self._server.start()
        self.reset()
        return self

    def reset(self) -> None:
        """Empty the emulator: every ThreadedMotoServer in a process shares moto's backends, so
        a new stack would otherwise find an earlier one's queues, buckets and tables."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST"), timeout=30).close()

    def stop(self) -> None:
        try:
            self.reset()  # leave nothing behind for the next in-process server either
        except OSError:
            pass  # already unreachable: nothing to empty
        self._server.stop()
