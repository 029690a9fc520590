"""The local API Gateway: HTTP requests become REST API proxy events for the very handler the
API Lambda runs; its proxy responses become HTTP responses. Also serves the browser console.

Hand-written on ``http.server`` because no maintained library emulates API Gateway's REST
proxy event shape without Docker (SAM CLI needs a container engine this machine lacks).
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from anemonefish_services.local.lambda_context import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
API_PREFIXES = ("/jobs", "/health", "/openapi.json")
_TEXT_TYPES = ("application/json", "text/", "application/javascript")
# API Gateway's REST payload quota: a larger request never reaches the Lambda.
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024
_DIGITS = re.compile(r"[0-9]+")
_HEX_DIGITS = re.compile(rb"[0-9A-Fa-f]+")


class _BadRequestBody(Exception):
    """A request whose body cannot be read as HTTP/1.1 frames it, or is over the quota."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def console_dir() -> Path:
    return Path(str(resources.files("anemonefish_services") / "console" / "static"))


def build_proxy_event(
    method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The REST API (v1) proxy integration event API Gateway would send for this request."""
    parts = urlsplit(raw_path)
    query = parse_qs(parts.query, keep_blank_values=True)
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    text_body: str | None = None
    is_base64 = False
    if body:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode(), True
    api_key = next((v for k, v in headers if k.lower() == "x-api-key"), None)
    return {
        "resource": parts.path,
        "path": parts.path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "resourcePath": parts.path,
            "httpMethod": method,
            "path": f"/local{parts.path}",
            "stage": "local",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "apiKey": api_key, "apiKeyId": None, "userAgent": single.get("User-Agent")},
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


class ApiFront(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's 5 reset connections when a page or a script sent 20 requests at once.
    request_queue_size = 128

    def __init__(self, port: int, api_handler: Handler, *, host: str = "127.0.0.1", function_name: str = "api") -> None:
        self.api_handler = api_handler
        self.function_name = function_name
        self.static_dir = console_dir()
        # One Lambda execution environment handles one request at a time, and the handler's
        # module-level resolver keeps per-request state (powertools' app.context): concurrent
        # browser requests would otherwise see each other's route. Static files stay parallel.
        self.invoke_lock = threading.Lock()
        super().__init__((host, port), _RequestHandler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ApiFront:
        self._thread = threading.Thread(target=self.serve_forever, name="api-front", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _RequestHandler(BaseHTTPRequestHandler):
    server: ApiFront
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the API logs its own lines
        pass

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        if self.command in ("GET", "HEAD") and not path.startswith(API_PREFIXES) and self._serve_static(path):
            return
        try:
            body = self._read_body()
        except _BadRequestBody as exc:
            self.close_connection = True  # what is left of the body would be read as the next request
            self._answer(exc.status, {"Content-Type": "application/json", "Connection": "close"},
                         json.dumps({"error": {"code": exc.code, "message": exc.message, "details": None}}).encode())
            return
        event = build_proxy_event(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
        context = LocalLambdaContext(function_name=self.server.function_name, timeout_s=29.0)
        try:
            with self.server.invoke_lock:
                response = self.server.api_handler(event, context)
        except Exception:  # API Gateway answers 502 when the integration fails; so do we
            response = {"statusCode": 502, "headers": {"Content-Type": "application/json"},
                        "body": '{"error": {"code": "bad_gateway", "message": "the API handler failed", "details": null}}'}
        payload = response.get("body") or ""
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode("utf-8")
        self._answer(int(response.get("statusCode", 200)), response.get("headers") or {}, data,
                     response.get("multiValueHeaders") or {})

    def _read_body(self) -> bytes:
        """The request's body, framed by Content-Length or chunked, as API Gateway accepts them."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        declared = self.headers.get("Content-Length")
        if declared is None:
            return b""
        if not _DIGITS.fullmatch(declared.strip()):  # str.isdigit() takes "²", which int() refuses
            raise _BadRequestBody(400, "bad_request", f"Content-Length must be a number of bytes, not {declared!r}")
        length = int(declared)
        if length > MAX_REQUEST_BODY_BYTES:
            raise _BadRequestBody(413, "request_too_large",
                                  f"the request body ({length} bytes) is over API Gateway's {MAX_REQUEST_BODY_BYTES} bytes")
        body = self.rfile.read(length)
        if len(body) < length:
            raise _BadRequestBody(400, "bad_request", f"the body ended after {len(body)} of {length} bytes")
        return body

    def _read_chunked(self) -> bytes:
        # http.server has no chunked reader (requests sends generator bodies so).
        body = bytearray()
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            if not _HEX_DIGITS.fullmatch(line):  # int(line, 16) takes "-5", which read() refuses
                raise _BadRequestBody(400, "bad_request", f"malformed chunk size {line[:20]!r}")
            size = int(line, 16)
            if len(body) + size > MAX_REQUEST_BODY_BYTES:
                raise _BadRequestBody(413, "request_too_large",
                                      f"the request body is over API Gateway's {MAX_REQUEST_BODY_BYTES} bytes")
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers, up to the blank line
                    pass
                return bytes(body)
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(3).strip():
                raise _BadRequestBody(400, "bad_request", "a chunk of the body is cut short or malformed")
            body += chunk

    def _answer(self, status: int, headers: dict[str, Any], data: bytes,
                multi_headers: dict[str, list[Any]] | None = None) -> None:
        self.send_response(status)
        sent = set()
        for name, values in (multi_headers or {}).items():
            for value in values:
                self.send_header(name, str(value))
            sent.add(name.lower())
        for name, value in headers.items():
            if name.lower() not in sent:
                self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _serve_static(self, path: str) -> bool:
        relative = "index.html" if path in ("/", "/console", "/console/") else path.removeprefix("/console/").lstrip("/")
        root = self.server.static_dir.resolve()
        file = (root / relative).resolve()
        if not file.is_file() or root not in file.parents:
            return False
        data = file.read_bytes()
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith(_TEXT_TYPES):
            content_type += "; charset=utf-8"
        self._answer(200, {"Content-Type": content_type, "Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"},
                     data)
        return True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch
