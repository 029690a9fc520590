"""Entry point of the compose `stack` service: read the environment the Terraform `local`
environment wrote (`terraform output -json app_environment`), then run the local stack
against those resources (`anemonefish local up --existing`)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

APP_ENV_FILE = Path(os.environ.get("ANEMONEFISH_APP_ENV_FILE", "/state/app-environment.json"))


def main() -> int:
    deadline = time.monotonic() + 600
    while not APP_ENV_FILE.is_file():  # the terraform service writes it after apply
        if time.monotonic() > deadline:
            print(f"{APP_ENV_FILE} did not appear: did the terraform service fail?", file=sys.stderr)
            return 1
        time.sleep(1)
    os.environ.update(json.loads(APP_ENV_FILE.read_text()))
    from anemonefish_services.cli import main as cli_main

    return int(cli_main(["local", "up", "--existing", *sys.argv[1:]]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
