"""The submit client's part PUTs (client.upload): which answers re-sign the URL, retry, or stop."""

from __future__ import annotations

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
