"""A thin typed client of the HTTP API (v1), with retries on transient failures."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def _job_path(job_id: str) -> str:
    """``/jobs/{id}`` with the id as one path segment: "" or "../jobs" must not name another route."""
    if not job_id.strip():
        raise ApiError(400, "invalid_request", "the job id is empty")
    return f"/jobs/{quote(job_id, safe='')}"


def _session(retries: int) -> requests.Session:
    session = requests.Session()
    # POST /jobs is safe to retry only with an Idempotency-Key, which the submit command sends.
    retry = Retry(
        total=retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "PUT", "POST", "DELETE"}),
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class ApiClient:
    def __init__(self, api_url: str, api_key: str, *, timeout_s: float = 30.0, retries: int = 4) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.session = _session(retries)

    def _call(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None,
              params: dict[str, Any] | None = None) -> Any:
        response = self.session.request(
            method,
            f"{self.api_url}{path}",
            json=json,
            params=params,
            headers={"x-api-key": self.api_key, **(headers or {})},
            timeout=self.timeout_s,
            # requests drops Authorization on a redirect to another host, not x-api-key: a
            # redirect (which API Gateway never sends) would hand the key to wherever it points.
            allow_redirects=False,
        )
        if response.is_redirect:
            raise ApiError(response.status_code, "redirect",
                           f"the API at {self.api_url} answered {response.status_code}, a redirect to "
                           f"{response.headers.get('Location', '?')}; the key was not sent there (if that is the API, "
                           "pass its address as --api)")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
            raise ApiError(response.status_code, error.get("code", "http_error"), error.get("message", response.text[:200]),
                           error.get("details"))
        return body

    def create_job(self, filename: str, size_bytes: int, *, params: dict[str, Any] | None = None,
                   webhook_url: str | None = None, content_type: str | None = None,
                   idempotency_key: str | None = None, sha256: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"filename": filename, "size_bytes": size_bytes}
        if sha256:
            body["sha256"] = sha256
        if params:
            body["params"] = params
        if webhook_url:
            body["webhook"] = {"url": webhook_url}
        if content_type:
            body["content_type"] = content_type
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", "/jobs", json=body, headers=headers)

    def webhook_secret(self) -> str:
        """This key's tenant's webhook signing secret (``whsec_…``)."""
        return self._call("GET", "/webhook-secret")["secret"]

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", _job_path(job_id))

    def list_jobs(self, limit: int = 20, next_token: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if next_token:
            params["next_token"] = next_token
        return self._call("GET", "/jobs", params=params)

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return self._call("DELETE", _job_path(job_id))

    def sign_parts(self, job_id: str, part_numbers: list[int]) -> dict[str, Any]:
        return self._call("POST", f"{_job_path(job_id)}/upload/parts", json={"part_numbers": part_numbers})

    def uploaded_parts(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"{_job_path(job_id)}/upload/parts")

    def complete_upload(self, job_id: str, parts: list[tuple[int, str]]) -> dict[str, Any]:
        return self._call("POST", f"{_job_path(job_id)}/upload/complete",
                          json={"parts": [{"part_number": n, "etag": e} for n, e in sorted(parts)]})
