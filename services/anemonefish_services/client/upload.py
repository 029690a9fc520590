"""Upload a file straight to S3 with the presigned instructions of ``POST /jobs``.

Multipart: parts go up in parallel, each read from disk only when it is sent (memory is
``workers x part_size``), each retried with backoff; an expired part URL is re-signed; parts
already in S3 (``GET /jobs/{id}/upload/parts``) are skipped, so a rerun resumes.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, BinaryIO

import requests

from anemonefish_services.client.api import ApiClient

ProgressFn = Callable[[int], None]  # called with bytes just sent (negative: taken back for a retry)
StopFn = Callable[[], bool]


class UploadStopped(Exception):
    """The upload was told to stop (Ctrl-C, or another part failed for good). Not an OSError,
    so requests and urllib3 let it through unwrapped from the body's read."""


class _ProgressReader:
    """File slice with a length (so requests sends Content-Length, which S3 needs) that
    reports bytes as they are read, and stops the request when told to (at its next read:
    a PUT in flight ends within one chunk, not when its part has gone up)."""

    def __init__(self, handle: BinaryIO, length: int, progress: ProgressFn | None, stop: StopFn | None = None) -> None:
        self._handle = handle
        self._remaining = length
        self._length = length
        self._progress = progress
        self._stop = stop
        self.sent = 0

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if self._stop is not None and self._stop():
            self._handle.close()
            raise UploadStopped("upload stopped")
        if self._remaining <= 0:
            return b""
        size = self._remaining if size < 0 else min(size, self._remaining)
        data = self._handle.read(size)
        self._remaining -= len(data)
        if self._remaining <= 0 or not data:
            self._handle.close()
        if self._progress and data:
            self._progress(len(data))
        self.sent += len(data)
        return data

    def take_back_progress(self) -> None:
        """A failed attempt's bytes: the retry sends them again, and the bar must not count them twice."""
        if self._progress and self.sent:
            self._progress(-self.sent)
        self.sent = 0
        self._handle.close()


def _take_back(body: Any) -> None:
    if isinstance(body, _ProgressReader):
        body.take_back_progress()


def _url_expired(response: requests.Response) -> bool:
    """A presigned URL S3 no longer honours: past its expiry (403), or signed with a role
    session that has ended since (400 ExpiredToken), whatever its own expiry said."""
    if response.status_code == 403:
        return True
    return response.status_code == 400 and any(
        f"<Code>{code}</Code>" in response.text for code in ("ExpiredToken", "TokenRefreshRequired"))


def _put_with_retries(session: requests.Session, url_for: Callable[[bool], str], body_for: Callable[[], Any],
                      headers: dict[str, str], attempts: int = 5, stop: StopFn | None = None) -> requests.Response:
    last: Exception | None = None
    for attempt in range(attempts):
        if stop is not None and stop():
            raise UploadStopped("upload stopped")
        url = url_for(attempt > 0 and isinstance(last, PermissionError))  # before the file is opened: it may raise
        body = body_for()
        try:
            response = session.put(url, data=body, headers=headers, timeout=300)
            if _url_expired(response):  # re-sign before the next attempt
                last = PermissionError(f"S3 refused the upload URL: {response.text[:200]}")
            elif response.status_code >= 500 or response.status_code in (408, 429) or (
                    response.status_code == 400 and "<Code>RequestTimeout</Code>" in response.text):
                last = OSError(f"S3 answered {response.status_code}")  # worth the same request again
            elif response.status_code >= 400:
                _take_back(body)
                raise OSError(f"S3 refused the upload: {response.status_code} {response.text[:300]}")
            else:
                return response
        except (requests.ConnectionError, requests.Timeout) as exc:
            last = exc
        except UploadStopped:
            _take_back(body)
            raise
        _take_back(body)
        time.sleep(min(8.0, 0.5 * 2**attempt))
    raise OSError(f"upload failed after {attempts} attempts: {_unsigned(str(last))}")


def _unsigned(text: str) -> str:
    """``text`` with presigned URLs' query strings cut: a signature has no place in an error a
    user pastes into a ticket (requests names the URL in its connection errors)."""
    return re.sub(r"\?[^\s'\"?]*X-Amz-[^\s'\"]*", "?...", text)


def upload_single(path: Path, upload: dict[str, Any], progress: ProgressFn | None = None,
                  session: requests.Session | None = None, stop: StopFn | None = None) -> None:
    session = session or requests.Session()
    size = path.stat().st_size

    def body() -> Any:
        handle = path.open("rb")
        return _ProgressReader(handle, size, progress, stop)

    _put_with_retries(session, lambda _refresh: upload["url"], body, dict(upload.get("headers") or {}), stop=stop)


def upload_multipart(client: ApiClient, job_id: str, path: Path, upload: dict[str, Any],
                     progress: ProgressFn | None = None, workers: int = 4, stop: StopFn | None = None) -> None:
    """Send the parts S3 does not have yet, then complete the upload. The first part that
    fails for good stops the others (each at its next read) and is raised; so is ``stop``."""
    part_size, part_count = int(upload["part_size"]), int(upload["part_count"])
    size = path.stat().st_size
    urls: dict[int, str] = {p["part_number"]: p["url"] for p in upload.get("parts", [])}
    urls_lock = threading.Lock()
    done: dict[int, str] = {}
    for part in client.uploaded_parts(job_id)["parts"]:  # resume: keep what S3 already has
        expected = min(part_size, size - (part["part_number"] - 1) * part_size)
        if part["size"] == expected:
            done[part["part_number"]] = part["etag"]
            if progress:
                progress(expected)
    todo = [n for n in range(1, part_count + 1) if n not in done]

    def url_for(number: int, refresh: bool) -> str:
        with urls_lock:
            if refresh or number not in urls:
                batch = [n for n in todo if n >= number][:100] if not refresh else [number]
                for p in client.sign_parts(job_id, batch)["parts"]:
                    urls[p["part_number"]] = p["url"]
            return urls[number]

    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=workers))
    session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=workers))

    failed = threading.Event()

    def stopping() -> bool:
        return failed.is_set() or (stop is not None and stop())

    def send(number: int) -> tuple[int, str]:
        offset = (number - 1) * part_size
        length = min(part_size, size - offset)

        def body() -> Any:
            handle = path.open("rb")
            handle.seek(offset)
            return _ProgressReader(handle, length, progress, stopping)

        response = _put_with_retries(session, lambda refresh: url_for(number, refresh), body, {}, stop=stopping)
        return number, response.headers["ETag"]

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo) or 1))) as pool:
        futures = [pool.submit(send, n) for n in todo]
        try:
            for future in as_completed(futures):
                number, etag = future.result()
                done[number] = etag
        except BaseException:  # a part failed for good, or Ctrl-C: the rest stop, the upload stays open to resume
            failed.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    client.complete_upload(job_id, list(done.items()))


def file_fingerprint(path: Path) -> str:
    """Identity of a file for resuming its upload: path, size and modification time."""
    stat = path.stat()
    return f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"
