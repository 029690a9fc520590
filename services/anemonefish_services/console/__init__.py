"""The browser console: static files (plain ES modules, no build step, no CDN).

The local stack serves :data:`STATIC_DIR` at ``/``; deployments copy the same files to a
bucket and write ``config.js`` with the API base URL.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"

__all__ = ["STATIC_DIR"]
