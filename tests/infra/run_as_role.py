"""One Lambda of the pipeline in this process, under the credentials its environment gives
(test_iam_roles.py passes each function its Terraform role's).

Usage:
  python run_as_role.py serve FUNCTION READY  -> runs it (api, worker or dlq), writes {"api_url": ...}
                                                to the file READY once it runs; stops when stdin closes.
                                                (The functions log to stdout, as in Lambda.)
  python run_as_role.py sweep SECONDS    -> one sweep as if SECONDS from now; prints its outcome.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(mode: str, argument: str, ready: str = "") -> int:


    if mode == "sweep":
        from anemonefish_services.settings import get_settings
        from anemonefish_services.worker.sweeper import sweep

        print(json.dumps(sweep(get_settings(), now=time.time() + float(argument))), flush=True)
        return 0
    from anemonefish_services.local.moto_server import free_port
    from anemonefish_services.local.stack import serve_existing

    stack = serve_existing(port=free_port(), api_key="iam-roles-key", functions=frozenset({argument}))
    try:
        partial = Path(f"{ready}.part")
        partial.write_text(json.dumps({"api_url": stack.api_url}))
        partial.replace(ready)  # whole when the test sees it
        sys.stdin.read()  # until the test closes it
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
