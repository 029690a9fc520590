"""The local stack's HTTP front behaves like one Lambda execution environment."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from anemonefish_services.local.http_front import MAX_REQUEST_BODY_BYTES, ApiFront
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


def _echo_front() -> tuple[ApiFront, list[dict]]:
    invoked: list[dict] = []

    def handler(event, context):
        invoked.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"body": event["body"]})}

    return ApiFront(free_port(), handler).start(), invoked


def _raw_exchange(front: ApiFront, request: bytes, *, close_write: bool = False) -> tuple[int, dict]:
    host, port = front.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(request)
        if close_write:
            conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
            head, _, rest = answer.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), None)
            if length is not None and len(rest) >= length:
                break
    status = int(answer.split(b" ", 2)[1])
    return status, json.loads(answer.partition(b"\r\n\r\n")[2])


def test_a_chunked_body_reaches_the_handler_whole() -> None:
    """requests sends a generator body chunked; API Gateway hands the Lambda the whole body."""
    front, invoked = _echo_front()
    try:
        answer = requests.post(f"{front.url}/jobs", data=(piece for piece in (b'{"filename": ', b'"reef.wav"}')), timeout=10)
    finally:
        front.stop()
    assert answer.status_code == 200 and answer.json()["body"] == '{"filename": "reef.wav"}'
    assert len(invoked) == 1


def test_malformed_oversized_or_cut_short_bodies_are_refused_before_the_handler() -> None:
    front, invoked = _echo_front()
    try:
        for length in (b"ten", "\u00b2".encode("latin-1"), b"-1"):  # "\u00b2" ("2" superscript) passes str.isdigit()
            status, bad_length = _raw_exchange(front, b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n")
            assert status == 400 and "Content-Length" in bad_length["error"]["message"]
        status, too_large = _raw_exchange(
            front, f"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_REQUEST_BODY_BYTES + 1}\r\n\r\n".encode())
        assert status == 413 and too_large["error"]["code"] == "request_too_large"
        status, cut = _raw_exchange(front, b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}", close_write=True)
        assert status == 400 and "2 of 100 bytes" in cut["error"]["message"]
        for size in (b"zz", b"-5"):  # int("-5", 16) is -5
            status, bad_chunk = _raw_exchange(
                front, b"POST /jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\n{}\r\n0\r\n\r\n")
            assert status == 400 and "chunk" in bad_chunk["error"]["message"]
    finally:
        front.stop()
    assert invoked == []
