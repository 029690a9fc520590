"""The submit client's part PUTs (client.upload): which answers re-sign the URL, retry, or stop."""

from __future__ import annotations

from itertools import accumulate
from types import SimpleNamespace

import pytest

from anemonefish_services.client import upload


class _Session:
    """S3 answering the PUTs in turn with the given (status, body) pairs."""

    def __init__(self, *answers: tuple[int, str]) -> None:
        self.answers = list(answers)
        self.urls: list[str] = []

    def put(self, url, data, headers, timeout):  # noqa: ANN001
        self.urls.append(url)
        status, text = self.answers.pop(0)
        return SimpleNamespace(status_code=status, text=text)


EXPIRED_TOKEN = "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>"


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(upload.time, "sleep", lambda s: None)


@pytest.mark.parametrize("refusal", [(403, "<Code>AccessDenied</Code> Request has expired"), (400, EXPIRED_TOKEN)])
def test_a_url_s3_no_longer_honours_is_signed_again(refusal):
    """A URL dies with its expiry (403) or with the signing role's session (400 ExpiredToken)."""
    session = _Session(refusal, (200, ""))
    asked = []

    def url_for(resign: bool) -> str:
        asked.append(resign)
        return "https://s3/fresh" if resign else "https://s3/first"

    assert upload._put_with_retries(session, url_for, lambda: b"x", {}).status_code == 200
    assert asked == [False, True] and session.urls == ["https://s3/first", "https://s3/fresh"]


def test_other_refusals_stop_at_once():
    session = _Session((400, "<Error><Code>InvalidDigest</Code></Error>"))
    with pytest.raises(OSError, match="S3 refused the upload: 400"):
        upload._put_with_retries(session, lambda resign: "https://s3/u", lambda: b"x", {})
    assert len(session.urls) == 1


class _Parts:
    """S3 taking multipart PUTs as a network would: each body read a chunk at a time."""

    def __init__(self, refuse_part: int | None = None, fail_first_try: bool = False, chunk_s: float = 0.01) -> None:
        import threading

        self.refuse_part = refuse_part
        self.fail_first_try = fail_first_try
        self.chunk_s = chunk_s
        self.tried: set[int] = set()
        self.lock = threading.Lock()

    def put(self, url, data, headers, timeout):  # noqa: ANN001
        import threading

        number = int(url.rsplit("=", 1)[1])
        if number == self.refuse_part:
            return SimpleNamespace(status_code=400, text="<Code>InvalidPart</Code>", headers={})
        while data.read(1024):
            threading.Event().wait(self.chunk_s)  # time.sleep is switched off by the fixture
        with self.lock:
            again = number in self.tried
            self.tried.add(number)
        if self.fail_first_try and not again:
            return SimpleNamespace(status_code=500, text="", headers={})
        return SimpleNamespace(status_code=200, text="", headers={"ETag": f'"{number}"'})

    def mount(self, *args):  # noqa: ANN002
        pass


class _Api:
    def __init__(self) -> None:
        self.completed: list = []

    def uploaded_parts(self, job_id):  # noqa: ANN001
        return {"parts": []}

    def sign_parts(self, job_id, numbers):  # noqa: ANN001
        return {"parts": [{"part_number": n, "url": f"https://s3/part?partNumber={n}"} for n in numbers]}

    def complete_upload(self, job_id, parts):  # noqa: ANN001
        self.completed.append(parts)


def _recording(tmp_path, size: int = 40 * 1024):
    path = tmp_path / "reef.wav"
    path.write_bytes(bytes(range(256)) * (size // 256))
    return path


def _multipart(tmp_path, monkeypatch, s3: _Parts, stop=None):  # noqa: ANN001
    import time as clock

    monkeypatch.setattr(upload.requests, "Session", lambda: s3)
    path, api, sent = _recording(tmp_path), _Api(), []
    plan = {"part_size": 8 * 1024, "part_count": 5, "parts": []}
    started = clock.monotonic()
    try:
        upload.upload_multipart(api, "job", path, plan, sent.append, workers=4, stop=stop)
    finally:
        elapsed = clock.monotonic() - started
    return api, sent, elapsed, path.stat().st_size


def test_a_part_refused_for_good_stops_the_others_at_once_and_leaves_the_upload_open(tmp_path, monkeypatch):
    s3 = _Parts(refuse_part=1, chunk_s=0.05)  # the other parts would take 0.4 s each
    with pytest.raises(OSError, match="S3 refused the upload: 400"):
        _multipart(tmp_path, monkeypatch, s3)
    assert s3.tried == set()  # no other part finished: each stopped at its next read


def test_a_retried_part_is_counted_once(tmp_path, monkeypatch):
    api, sent, _, size = _multipart(tmp_path, monkeypatch, _Parts(fail_first_try=True, chunk_s=0))
    assert sum(sent) == size and max(accumulate(sent)) <= size
    assert len(api.completed) == 1


def test_a_stop_ends_the_parts_in_flight_within_a_read_and_completes_nothing(tmp_path, monkeypatch):
    import threading

    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()  # Ctrl-C, 0.1 s in
    with pytest.raises(upload.UploadStopped):
        api, *_ = _multipart(tmp_path, monkeypatch, _Parts(chunk_s=0.05), stop=stop.is_set)


def test_an_upload_error_does_not_carry_the_presigned_urls_signature(tmp_path, monkeypatch):
    """requests names the URL in its connection errors: submit's table and status lines showed
    every presigned URL whole, signature and credential included."""
    import pytest

    from anemonefish_services.client import upload

    monkeypatch.setattr(upload.time, "sleep", lambda s: None)
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"RIFF" + b"\0" * 100)
    signed = "http://127.0.0.1:9/bucket/uploads/j/a.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=deadbeef"
    with pytest.raises(OSError, match="upload failed after 5 attempts") as failure:
        upload.upload_single(recording, {"method": "PUT", "url": signed, "headers": {}})
    assert "/bucket/uploads/j/a.wav?..." in str(failure.value) and "X-Amz" not in str(failure.value)
