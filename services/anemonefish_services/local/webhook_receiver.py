"""A loopback webhook receiver for the demo and tests: verifies each delivery with the
independent ``standardwebhooks`` verifier and keeps what it received."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class ReceivedWebhook:
    headers: dict[str, str]
    body: str
    verified: bool
    payload: dict[str, Any] | None


class WebhookReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, secret: str, *, port: int = 0, status: int = 204) -> None:
        self.verifier = Webhook(secret)
        self.status = status
        self.received: list[ReceivedWebhook] = []
        self.arrived = threading.Condition()
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/anemonefish"

    def start(self) -> WebhookReceiver:
        threading.Thread(target=self.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def wait_for(self, count: int, timeout_s: float) -> list[ReceivedWebhook]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout_s)
            return list(self.received)


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = self.server.verifier.verify(body, headers)
            verified = True
        except WebhookVerificationError:
            payload, verified = None, False
        with self.server.arrived:
            self.server.received.append(ReceivedWebhook(headers, body, verified, payload if isinstance(payload, dict) else json.loads(body) if verified else None))
            self.server.arrived.notify_all()
        self.send_response(self.server.status if verified else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()
