"""The local stack's HTTP front behaves like one Lambda execution environment."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from anemonefish_services.local.http_front import ApiFront
from anemonefish_services.local.moto_server import free_port


def test_api_handler_is_never_invoked_concurrently() -> None:
    """powertools' resolver keeps per-request state on the module-level app, as Lambda allows
    (one request per environment); concurrent browser calls once read each other's route."""
    active, peak = 0, 0
    lock = threading.Lock()

    def handler(event, context):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": f'{{"path": "{event["path"]}"}}'}

    front = ApiFront(free_port(), handler).start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda i: requests.get(f"{front.url}/jobs/{i}", timeout=10), range(24)))
    finally:
        front.stop()
    assert [a.json()["path"] for a in answers] == [f"/jobs/{i}" for i in range(24)]
    assert peak == 1
