"""Jobs that already exist: list them, wait for one to end, download its result documents.

``anemonefish submit`` uses the download; ``anemonefish jobs`` all of it, for jobs created
elsewhere (another machine, the browser console, an earlier run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from anemonefish_services.client.api import ApiClient
from anemonefish_services.models.job import TERMINAL_STATES as TERMINAL  # StrEnum: "FAILED" in it
# The API's largest page (GET /jobs?limit=1..100).
PAGE_LIMIT = 100


def recent_jobs(client: ApiClient, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` of the key's jobs, newest first, paging through ``next_token``."""
    jobs: list[dict[str, Any]] = []
    token: str | None = None
    while len(jobs) < limit:
        page = client.list_jobs(limit=min(PAGE_LIMIT, limit - len(jobs)), next_token=token)
        jobs += page["jobs"]
        token = page.get("next_token")
        if not token:
            break
    return jobs[:limit]


def wait_for_job(
    client: ApiClient,
    job_id: str,
    *,
    timeout_s: float | None = None,
    poll_interval_s: float = 1.0,
    on_poll: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll ``GET /jobs/{id}`` until the job ends; the job as last seen.

    Raises :class:`TimeoutError` after ``timeout_s`` (None: no limit), and the client's
    :class:`~anemonefish_services.client.api.ApiError` if the API refuses (unknown job, key).
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        job = client.get_job(job_id)
        if on_poll is not None:
            on_poll(job)
        if job["status"] in TERMINAL:
            return job
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"job {job_id} is still {job['status']} after {timeout_s:g} s")
        time.sleep(poll_interval_s)


def result_stem(job: dict[str, Any]) -> str:
    """The name a job's documents are saved under: its recording's, as ``detect`` names them,
    or its job id when the name gives none (the job has run: its results are saved all the same).
    The API names its download links the same way (logic.views)."""
    from anemonefish.formats import document_stem

    return document_stem(job["filename"]) or job["job_id"]


def download_results(job: dict[str, Any], stem: str, outdir: Path) -> dict[str, Path]:
    """Every result document a finished job links to, as ``OUTDIR/<stem>.<format's suffix>``:
    all or none, as detect writes them. A set half replaced (a new JSON beside the CSV of an
    earlier run) would read as someone's edited files and refuse every later fetch."""
    from anemonefish.formats import document_name, staging_path  # the offline detect command's names

    outdir.mkdir(parents=True, exist_ok=True)
    staged: dict[str, tuple[Path, Path]] = {}
    try:
        for fmt, url in ((job.get("result") or {}).get("links") or {}).items():
            target = outdir / document_name(stem, fmt)
            staged[fmt] = (target, staging_path(target))
            _download(url, staged[fmt][1])
        for target, tmp in staged.values():
            tmp.replace(target)
    finally:
        for _, tmp in staged.values():
            tmp.unlink(missing_ok=True)  # left only when a download failed
    return {fmt: target for fmt, (target, _) in staged.items()}


def _download(url: str, path: Path) -> None:
    with requests.get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        with path.open("wb") as out:
            for chunk in response.iter_content(1 << 16):
                out.write(chunk)
