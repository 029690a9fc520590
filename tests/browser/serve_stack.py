"""Run the real local stack (moto server over HTTP, API handler behind the HTTP front that
also serves the console, worker and DLQ pollers) for the browser tests, with upload limits
lowered so a few-MB recording goes up in several multipart parts.

Its own process: ``local_up`` configures the handlers through ``os.environ``, which must not
leak into the pytest process (the integration tests run their own stack there).

Usage: python serve_stack.py PORT API_KEY READY_FILE -> writes READY_FILE (JSON: api_url,
endpoint_url, max_upload_bytes) once it serves, then serves until SIGTERM. Its stdout is
the handlers' log (powertools logs to stdout), so the ready signal is a file.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

MIB = 1024 * 1024
# Settings of the stack under test (docs/architecture.md lists the variables).
STACK_ENV = {
    "ANEMONEFISH_MULTIPART_THRESHOLD_BYTES": str(1 * MIB),
    "ANEMONEFISH_MULTIPART_PART_BYTES": str(1 * MIB),
    "ANEMONEFISH_MAX_UPLOAD_BYTES": str(12 * MIB),
    "ANEMONEFISH_PROGRESS_INTERVAL_S": "0.2",
}
# moto refuses parts under this size (5 MiB, as S3); the test parts are 1 MiB.
PART_MIN_SIZE = 256 * 1024


def main(port: int, api_key: str, ready_file: Path) -> None:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from anemonefish_services.local.stack import local_up

    stack = local_up(port=port, api_key=api_key, part_min_size=PART_MIN_SIZE, extra_env=STACK_ENV,
                     sweep_interval_s=3600)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    ready = {"api_url": stack.api_url, "endpoint_url": stack.endpoint_url,
             "max_upload_bytes": int(STACK_ENV["ANEMONEFISH_MAX_UPLOAD_BYTES"])}
    tmp = ready_file.with_suffix(".part")
    tmp.write_text(json.dumps(ready))
    tmp.replace(ready_file)  # whole or absent: the test never reads half a file
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
