"""``make bench``: run the benchmark suites and write benchmarks/results.json (docs/benchmarks.md summarises it by hand).

Usage: python -m benchmarks.run [suite ...]   (suites: detection, quality, pipeline, s3read, finetune; default all)
Suites that are not run keep their previous figures in results.json.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
SUITES = ("detection", "quality", "pipeline", "s3read", "finetune")


def machine() -> dict[str, object]:
    import os

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main(argv: list[str]) -> int:
    chosen = argv or list(SUITES)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    failed = []
    for suite in chosen:
        print(f"== {suite}", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{suite}")
            results[suite] = {"machine": machine(), **module.run()}
        except Exception as exc:  # one broken suite still lets the others report
            failed.append(suite)
            results[suite] = {"machine": machine(), "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(results[suite], indent=2), flush=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
