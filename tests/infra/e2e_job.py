"""One job through the local stack against EXISTING resources (made by the Terraform local
environment): run the API handler and the worker pollers with the ``ANEMONEFISH_*``
environment this process was given, submit a recording over HTTP (presigned upload), wait.

Run by test_local_apply.py in its own process, so the settings it exports stay there.
Usage: python e2e_job.py RECORDING OUTDIR  -> prints the submission as one JSON line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from anemonefish_services.client.api import ApiClient
from anemonefish_services.client.submit import submit_files
from anemonefish_services.local.moto_server import free_port
from anemonefish_services.local.stack import serve_existing
from rich.console import Console


def main(recording: Path, outdir: Path) -> int:
    stack = serve_existing(port=free_port(), api_key="infra-e2e-key", sweep_interval_s=3600)
    try:
        (sub,) = submit_files(ApiClient(stack.api_url, stack.api_key), [recording], outdir, timeout_s=300,
                              console=Console(stderr=True, quiet=True))
    finally:
        stack.stop()
    print(json.dumps({"job_id": sub.job_id, "status": sub.status, "error": sub.error, "events": sub.events,
                      "documents": sorted(sub.documents), "job": sub.job}))
    return 0 if sub.status == "SUCCEEDED" else 1


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
