"""Webhook delivery against a real HTTP(S) server on 127.0.0.1, verified independently
with ``standardwebhooks.Webhook.verify``; and the URL policy (SSRF) table.

Name resolution is faked by patching ``socket.getaddrinfo`` for made-up hostnames only:
nothing here touches the network.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from anemonefish_services.notifications.errors import WebhookUrlError
from anemonefish_services.notifications.payload import ErrorSummary, JobEvent, ResultSummary
from anemonefish_services.notifications.webhooks import (
    WebhookRetryPolicy,
    address_refusal_reason,
    deliver_webhook,
    redact_url,
    validate_webhook_url,
    webhook_message_id,
)

from webhook_receiver import Receiver, Reply

SECRET = "whsec_" + base64.b64encode(b"anemonefish-test-secret-32-bytes").decode()
PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"

# ---------------------------------------------------------------- fixtures


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Hostname -> addresses for made-up names; everything else resolves as usual
    (IP literals and the loopback names need no network)."""
    table: dict[str, list[str]] = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002
        name = host.decode() if isinstance(host, bytes) else host
        if name not in table:
            return real_getaddrinfo(host, port, family, type, proto, flags)
        if not table[name]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        infos = []
        for address in table[name]:
            if ipaddress.ip_address(address).version == 6:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port or 0, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0)))
        return infos

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


class Sleeps(list[float]):
    """Records backoff delays instead of sleeping (keeps the tests fast)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def succeeded_event(job_id: str = "job-123") -> JobEvent:
    return JobEvent.for_job(
        job_id=job_id,
        status="SUCCEEDED",
        filename="reef 01.wav",
        tenant_id="tenant-a",
        result=ResultSummary(events_count=7, audio_duration_s=489.1, processing_time_s=1.9),
    )


def fast_policy(**overrides: float) -> WebhookRetryPolicy:
    values: dict[str, float] = dict(
        max_attempts=4, base_delay_s=0.2, max_delay_s=2.0, total_timeout_s=30.0, connect_timeout_s=2.0, read_timeout_s=2.0
    )
    values.update(overrides)
    return WebhookRetryPolicy(**values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- signing and delivery


def test_delivery_is_signed_per_standard_webhooks(receiver: Receiver) -> None:
    event = succeeded_event()
    outcome = deliver_webhook(receiver.url(), event, secret=SECRET, allow_loopback=True, policy=fast_policy())

    assert outcome.delivered and outcome.outcome == "delivered"
    assert (outcome.attempts, outcome.status_code, outcome.error) == (1, 200, None)
    assert outcome.url.startswith(f"http://127.0.0.1:{receiver.port}/… (sha256:")  # path and query redacted
    [request] = receiver.requests
    assert request.path == "/hooks/anemonefish?team=reef"
    assert request.headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert request.headers["Content-Type"] == "application/json"
    # An independent verifier accepts it, and the body is the event without the tenant.
    payload = Webhook(SECRET).verify(request.body, request.headers)
    assert payload == json.loads(event.to_json(include_tenant=False))
    assert payload["type"] == "job.succeeded" and "tenant_id" not in payload["data"]
    assert payload["data"]["result"]["events_count"] == 7
    assert request.headers["webhook-id"] == outcome.webhook_id == webhook_message_id("job-123", "SUCCEEDED", event.timestamp)
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    assert request.headers["webhook-signature"].startswith("v1,")
    # The signature covers the body and the id: a changed byte or id no longer verifies.
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(request.body.replace(b"7", b"8"), request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(request.body, {**request.headers, "webhook-id": "msg_other"})
    other_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other_secret).verify(request.body, request.headers)


def test_webhook_id_is_stable_per_job_and_status() -> None:
    ended = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert webhook_message_id("job-1", "FAILED", ended) == webhook_message_id("job-1", "FAILED", ended)
    assert webhook_message_id("job-1", "FAILED", ended) != webhook_message_id("job-1", "SUCCEEDED", ended)
    assert webhook_message_id("job-1", "FAILED", ended) != webhook_message_id("job-2", "FAILED", ended)
    # The same job id again (an Idempotency-Key used after its record expired): another job's end.
    later = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert webhook_message_id("job-1", "FAILED", ended) != webhook_message_id("job-1", "FAILED", later)


def test_retries_5xx_with_exponential_backoff_then_succeeds(receiver: Receiver) -> None:
    receiver.replies.extend([Reply(500), Reply(503), Reply(502), Reply(200)])
    sleeps = Sleeps()
    policy = fast_policy(max_attempts=5, base_delay_s=0.4, max_delay_s=10.0)
    outcome = deliver_webhook(
        receiver.url(), succeeded_event(), secret=SECRET, allow_loopback=True, policy=policy, sleep=sleeps, rng=random.Random(7)
    )

    assert outcome.delivered and outcome.attempts == 4 and outcome.status_code == 200
    assert len(receiver.requests) == 4
    # Every retry carries the same webhook-id (receivers dedupe) and a valid fresh signature.
    assert {r.headers["webhook-id"] for r in receiver.requests} == {outcome.webhook_id}
    for request in receiver.requests:
        Webhook(SECRET).verify(request.body, request.headers)
    assert len({r.body for r in receiver.requests}) == 1
    # Equal jitter: delay n lies in [cap/2, cap] with cap = 0.4 * 2**(n-1).
    assert len(sleeps) == 3
    for n, delay in enumerate(sleeps, start=1):
        cap = 0.4 * 2 ** (n - 1)
        assert cap / 2 <= delay <= cap
    assert sleeps[2] > sleeps[0]


def test_delays_are_capped_by_max_delay() -> None:
    policy = WebhookRetryPolicy(base_delay_s=1.0, max_delay_s=4.0)
    rng = random.Random(1)
    delays = [policy.backoff_s(n, rng) for n in range(1, 12)]
    assert all(delay <= 4.0 for delay in delays)
    assert all(delay >= 2.0 for delay in delays[3:])


def test_client_errors_are_not_retried(receiver: Receiver) -> None:
    receiver.replies.append(Reply(400))
    sleeps = Sleeps()
    outcome = deliver_webhook(
        receiver.url(), succeeded_event(), secret=SECRET, allow_loopback=True, policy=fast_policy(), sleep=sleeps
    )
    assert outcome.outcome == "rejected" and not outcome.delivered
    assert (outcome.attempts, outcome.status_code, outcome.error) == (1, 400, "HTTP 400")
    assert len(receiver.requests) == 1 and sleeps == []


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.replies.append(Reply(302, {"Location": "http://169.254.169.254/latest/meta-data/"}))
    outcome = deliver_webhook(receiver.url(), succeeded_event(), secret=SECRET, allow_loopback=True, policy=fast_policy())
    assert outcome.outcome == "rejected" and outcome.status_code == 302
    assert "redirect" in (outcome.error or "")
    assert len(receiver.requests) == 1


def test_gives_up_after_max_attempts(receiver: Receiver) -> None:
    receiver.replies.extend([Reply(500)] * 10)
    sleeps = Sleeps()
    outcome = deliver_webhook(
        receiver.url(), succeeded_event(), secret=SECRET, allow_loopback=True, policy=fast_policy(max_attempts=3), sleep=sleeps
    )
    assert outcome.outcome == "gave_up" and not outcome.delivered
    assert outcome.attempts == 3 and outcome.status_code == 500
    assert "after 3 attempts" in (outcome.error or "")
    assert len(receiver.requests) == 3 and len(sleeps) == 2


def test_gives_up_when_the_next_delay_exceeds_the_time_budget(receiver: Receiver) -> None:
    receiver.replies.extend([Reply(503)] * 3)
    sleeps = Sleeps()
    policy = fast_policy(max_attempts=10, base_delay_s=8.0, max_delay_s=8.0, total_timeout_s=3.0)
    outcome = deliver_webhook(receiver.url(), succeeded_event(), secret=SECRET, allow_loopback=True, policy=policy, sleep=sleeps)
    assert outcome.outcome == "gave_up" and outcome.attempts == 1
    assert "budget" in (outcome.error or "") and sleeps == []


def test_429_honours_retry_after(receiver: Receiver) -> None:
    receiver.replies.extend([Reply(429, {"Retry-After": "3"}), Reply(204)])
    sleeps = Sleeps()
    policy = fast_policy(base_delay_s=0.1, max_delay_s=10.0)
    outcome = deliver_webhook(receiver.url(), succeeded_event(), secret=SECRET, allow_loopback=True, policy=policy, sleep=sleeps)
    assert outcome.delivered and outcome.attempts == 2 and outcome.status_code == 204
    assert sleeps == [3.0]


def test_a_retry_after_longer_than_the_policy_allows_waits_the_policy_s_longest(receiver: Receiver) -> None:
    """A receiver asking for an hour would hold the sender that long (or past its deadline)."""
    receiver.replies.extend([Reply(429, {"Retry-After": "3600"}), Reply(204)])
    sleeps = Sleeps()
    policy = fast_policy(base_delay_s=0.1, max_delay_s=4.0, total_timeout_s=30.0)
    outcome = deliver_webhook(receiver.url(), succeeded_event(), secret=SECRET, allow_loopback=True, policy=policy, sleep=sleeps)
    assert outcome.delivered and sleeps == [4.0]


def test_read_timeout_is_retried(receiver: Receiver) -> None:
    receiver.replies.extend([Reply(200, delay_s=1.0), Reply(200)])
    sleeps = Sleeps()
    outcome = deliver_webhook(
        receiver.url(), succeeded_event(), secret=SECRET, allow_loopback=True, policy=fast_policy(read_timeout_s=0.2), sleep=sleeps
    )
    assert outcome.delivered and outcome.attempts == 2 and len(sleeps) == 1
    assert len(receiver.requests) == 2


def _listening_socket() -> socket.socket:
    """A bare TCP server on a free loopback port, for receivers http.server cannot play."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_attempts_deadline() -> None:
    """A byte every fraction of a second never trips a read timeout; the attempt as a whole
    must end, or one receiver holds the worker and every job behind it."""
    stop, listener = threading.Event(), _listening_socket()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.wait(0.1):  # a header line every 0.1 s, never the end of the headers
                try:
                    connection.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    return

    threading.Thread(target=trickle, daemon=True).start()
    started = time.monotonic()
    try:
        outcome = deliver_webhook(
            f"http://127.0.0.1:{listener.getsockname()[1]}/hook", succeeded_event(), secret=SECRET, allow_loopback=True,
            policy=fast_policy(max_attempts=1, connect_timeout_s=0.5, read_timeout_s=0.5), sleep=Sleeps(),
        )
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 3.0  # connect + read timeouts (1 s) bound the attempt, not each read
    assert not outcome.delivered and "no complete answer within 1 s" in (outcome.error or "")


def test_connection_errors_are_retried_and_never_raise() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    outcome = deliver_webhook(
        f"http://127.0.0.1:{port}/hook", succeeded_event(), secret=SECRET, allow_loopback=True,
        policy=fast_policy(max_attempts=3), sleep=sleeps,
    )
    assert outcome.outcome == "gave_up" and outcome.attempts == 3 and outcome.status_code is None
    assert "Connection" in (outcome.error or "") or "refused" in (outcome.error or "").lower()
    assert len(sleeps) == 2


def test_next_checked_address_is_tried_when_one_does_not_connect(
    receiver: Receiver, fake_dns: dict[str, list[str]]
) -> None:
    # The receiver listens on 127.0.0.1 only, so 127.0.0.2 refuses the connection.
    fake_dns["dual.reef.test"] = ["127.0.0.2", "127.0.0.1"]
    sleeps = Sleeps()
    outcome = deliver_webhook(
        receiver.url(host="dual.reef.test"), succeeded_event(), secret=SECRET, allow_loopback=True,
        policy=fast_policy(), sleep=sleeps,
    )
    assert outcome.delivered and outcome.attempts == 1 and sleeps == []
    assert receiver.requests[0].headers["Host"] == f"dual.reef.test:{receiver.port}"


def test_bad_secret_is_an_outcome_not_an_exception(receiver: Receiver) -> None:
    outcome = deliver_webhook(receiver.url(), succeeded_event(), secret="", allow_loopback=True)
    assert outcome.outcome == "error" and outcome.attempts == 0
    assert receiver.requests == []


def test_refused_url_is_never_contacted(receiver: Receiver) -> None:
    outcome = deliver_webhook(receiver.url(), succeeded_event(), secret=SECRET, allow_loopback=False)
    assert outcome.outcome == "refused" and outcome.attempts == 0
    assert "https" in (outcome.error or "")
    assert receiver.requests == []


def test_rebinding_to_a_private_address_after_creation_is_refused_at_delivery(
    receiver: Receiver, fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["hooks.example.com"] = [PUBLIC_V4]
    url = "https://hooks.example.com/anemonefish"
    validate_webhook_url(url)  # fine when the job is created
    fake_dns["hooks.example.com"] = ["10.0.0.5"]  # the name now points inside
    sleeps = Sleeps()
    outcome = deliver_webhook(url, succeeded_event(), secret=SECRET, policy=fast_policy(), sleep=sleeps)
    assert outcome.outcome == "refused" and outcome.attempts == 0
    assert "10.0.0.5" in (outcome.error or "") and "private" in (outcome.error or "")
    assert sleeps == []


def test_unresolvable_host_at_delivery_is_retried(fake_dns: dict[str, list[str]]) -> None:
    fake_dns["gone.example.com"] = []  # NXDOMAIN (perhaps a DNS hiccup: retried)
    sleeps = Sleeps()
    outcome = deliver_webhook(
        "https://gone.example.com/h", failed_event(), secret=SECRET, policy=fast_policy(max_attempts=2), sleep=sleeps
    )
    assert outcome.outcome == "gave_up" and outcome.attempts == 2 and len(sleeps) == 1


def failed_event() -> JobEvent:
    return JobEvent.for_job(
        job_id="job-9", status="FAILED", filename="x.flac", error=ErrorSummary(code="corrupt_audio", message="bad frame")
    )


# ---------------------------------------------------------------- https: connect to the checked address


def _tls_material(tmp_path: Path, dns_name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``dns_name`` signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anemonefish test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[Receiver, Path]]:
    ca_path, cert_path, key_path = _tls_material(tmp_path, "hooks.reef.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = Receiver(tls=context)
    yield server, ca_path
    server.close()


def test_https_connects_to_the_checked_address_and_verifies_the_hostname(
    tls_receiver: tuple[Receiver, Path], fake_dns: dict[str, list[str]]
) -> None:
    receiver, ca_path = tls_receiver
    # The name only exists in the fake resolver the policy consults: the request can only
    # have reached the server by connecting to the address the policy checked.
    fake_dns["hooks.reef.test"] = ["127.0.0.1"]
    url = receiver.url(host="hooks.reef.test", scheme="https")
    outcome = deliver_webhook(url, succeeded_event(), secret=SECRET, allow_loopback=True, ca_certs=str(ca_path))
    assert outcome.delivered, outcome
    [request] = receiver.requests
    assert request.headers["Host"] == f"hooks.reef.test:{receiver.port}"
    Webhook(SECRET).verify(request.body, request.headers)


def test_https_certificate_for_another_name_is_rejected_without_retry(
    tls_receiver: tuple[Receiver, Path], fake_dns: dict[str, list[str]]
) -> None:
    receiver, ca_path = tls_receiver
    fake_dns["impostor.reef.test"] = ["127.0.0.1"]
    sleeps = Sleeps()
    outcome = deliver_webhook(
        receiver.url(host="impostor.reef.test", scheme="https"), succeeded_event(), secret=SECRET,
        allow_loopback=True, ca_certs=str(ca_path), sleep=sleeps,
    )
    assert outcome.outcome == "rejected" and "TLS" in (outcome.error or "")
    assert outcome.attempts == 1 and sleeps == [] and receiver.requests == []


# ---------------------------------------------------------------- URL policy (SSRF)

REFUSED = [
    ("http://hooks.example.com/h", "scheme must be https"),
    ("ftp://hooks.example.com/h", "scheme must be https"),
    ("hooks.example.com/h", "scheme must be https"),
    ("https://10.1.2.3/h", "private"),
    ("https://172.16.0.1/h", "private"),
    ("https://172.31.255.254/h", "private"),
    ("https://192.168.1.10/h", "private"),
    ("https://127.0.0.1/h", "loopback"),
    ("https://127.8.9.10:8443/h", "loopback"),
    ("https://localhost/h", "loopback"),
    ("https://LOCALHOST./h", "loopback"),
    ("https://api.localhost/h", "loopback"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://169.254.10.1/h", "link-local"),
    ("https://[::1]/h", "loopback"),
    ("https://[fd00::1]/h", "unique local"),
    ("https://[fd00:ec2::254]/h", "metadata"),
    ("https://[fe80::1]/h", "link-local"),
    ("https://[::ffff:127.0.0.1]/h", "loopback"),
    ("https://[::ffff:10.0.0.1]/h", "private"),
    ("https://[::ffff:169.254.169.254]/h", "metadata"),
    ("https://[64:ff9b::a00:1]/h", "private"),  # NAT64 form of 10.0.0.1
    ("https://[2002:a00:1::]/h", "private"),  # 6to4 form of 10.0.0.1
    ("https://[ff02::1]/h", "multicast"),
    ("https://[::]/h", "unspecified"),
    ("https://0.0.0.0/h", "unspecified"),
    ("https://100.64.0.1/h", "carrier-grade NAT"),
    ("https://100.127.255.254/h", "carrier-grade NAT"),
    ("https://224.0.0.1/h", "multicast"),
    ("https://240.0.0.1/h", "reserved"),
    ("https://255.255.255.255/h", "reserved"),
    ("https://192.0.2.1/h", "documentation"),
    ("https://internal.example.com/h", "10.20.30.40"),
    ("https://mixed.example.com/h", "192.168.0.7"),  # one private address among public ones
    ("https://meta.example.com/h", "metadata"),
    ("https://ula.example.com/h", "unique local"),
    ("https://user:secret@hooks.example.com/h", "credentials"),
    ("https://token@hooks.example.com/h", "credentials"),
    ("https://hooks.example.com:22/h", "port 22"),
    ("https://hooks.example.com:0/h", "port"),
    ("https://hooks.example.com:99999/h", "port"),
    ("https://hooks.example.com\t.evil/h", "whitespace"),
    ("https://hooks.example.com/h\nx", "whitespace"),
    ("https:///h", "no host"),
    ("https://[fe80::1%25eth0]/h", "zone"),
    ("https://nx.example.com/h", "does not resolve"),
    ("https://[::1/h", "cannot be parsed"),
    ("https://[hooks.example.com]/h", "cannot be parsed"),
    ("https://hooks..example.com/h", "not a valid hostname"),
    ("", "empty"),
]


@pytest.fixture
def ssrf_dns(fake_dns: dict[str, list[str]]) -> dict[str, list[str]]:
    fake_dns.update(
        {
            "hooks.example.com": [PUBLIC_V4, PUBLIC_V6],
            "internal.example.com": ["10.20.30.40"],
            "mixed.example.com": [PUBLIC_V4, "192.168.0.7"],
            "meta.example.com": ["169.254.169.254"],
            "ula.example.com": ["fd12:3456::1"],
            "nx.example.com": [],
            "localhost": ["127.0.0.1", "::1"],
        }
    )
    return fake_dns


@pytest.mark.parametrize(("url", "reason"), REFUSED, ids=[u or "<empty>" for u, _ in REFUSED])
def test_refused_urls(url: str, reason: str, ssrf_dns: dict[str, list[str]]) -> None:
    with pytest.raises(WebhookUrlError) as refused:
        validate_webhook_url(url)
    assert reason.lower() in str(refused.value).lower()
    assert refused.value.code in ("invalid_webhook_url", "webhook_host_unresolved")
    assert isinstance(refused.value, ValueError)  # pydantic validators turn it into a 400


def test_numeric_host_spellings_of_loopback_are_refused() -> None:
    # inet_aton spellings of 127.0.0.1: the policy checks what the name resolves to.
    for url in ("https://2130706433/h", "https://0x7f000001/h", "https://127.1/h"):
        with pytest.raises(WebhookUrlError):
            validate_webhook_url(url)


@pytest.mark.parametrize(
    ("url", "addresses", "port", "request_target"),
    [
        ("https://hooks.example.com/h?sig=1", (PUBLIC_V4, PUBLIC_V6), 443, "/h?sig=1"),
        ("https://Hooks.Example.COM:8443", (PUBLIC_V4, PUBLIC_V6), 8443, "/"),
        ("https://8.8.8.8/x", ("8.8.8.8",), 443, "/x"),
        (f"https://[{PUBLIC_V6}]/x", (PUBLIC_V6,), 443, "/x"),
        ("https://[::ffff:8.8.8.8]/x", ("::ffff:8.8.8.8",), 443, "/x"),
    ],
)
def test_public_https_urls_are_allowed(
    url: str, addresses: tuple[str, ...], port: int, request_target: str, ssrf_dns: dict[str, list[str]]
) -> None:
    target = validate_webhook_url(url)
    assert target.scheme == "https"
    assert target.addresses == addresses
    assert target.port == port and target.request_target == request_target


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/h", "https://127.0.0.1:8443/h", "http://localhost:8080/h", "http://[::1]:8080/h", "http://127.0.0.1/h"],
)
def test_local_mode_allows_loopback(url: str, ssrf_dns: dict[str, list[str]]) -> None:
    target = validate_webhook_url(url, allow_loopback=True)
    assert all(ipaddress.ip_address(a).is_loopback for a in target.addresses)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/h", "https"),  # http only to loopback
        ("http://10.0.0.1:8080/h", "private"),
        ("https://169.254.169.254/h", "metadata"),
        ("https://mixed.example.com/h", "private"),
    ],
)
def test_local_mode_still_refuses_the_rest(url: str, reason: str, ssrf_dns: dict[str, list[str]]) -> None:
    with pytest.raises(WebhookUrlError, match=reason):
        validate_webhook_url(url, allow_loopback=True)


def test_address_policy_allows_public_addresses() -> None:
    for address in (PUBLIC_V4, PUBLIC_V6, "1.1.1.1", "::ffff:1.1.1.1"):
        assert address_refusal_reason(ipaddress.ip_address(address)) is None


def test_redacted_url_drops_secrets() -> None:
    """Slack's and Discord's webhook URLs carry their token in the path: it reached the logs."""
    shown = redact_url("https://u:p@hooks.example.com:8443/api/webhooks/1234/SECRET-TOKEN?token=abc#f")
    assert re.fullmatch(r"https://hooks\.example\.com:8443/… \(sha256:[0-9a-f]{12}\)", shown), shown
    assert redact_url("https://hooks.example.com/a") != redact_url("https://hooks.example.com/b")  # told apart


def test_a_resolver_that_hangs_is_given_up_on_with_the_host_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from anemonefish_services.notifications import webhooks

    release = threading.Event()

    def hanging_getaddrinfo(*args, **kwargs):
        release.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "too late")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_getaddrinfo)
    try:
        with pytest.raises(webhooks.WebhookHostUnresolvedError, match="slow.example.*did not resolve within 0.2 s"):
            webhooks._resolve("https://slow.example/hook", "slow.example", 443, timeout_s=0.2)
    finally:
        release.set()


def test_names_whose_dns_hangs_leave_the_next_receiver_its_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lookups ran in a shared pool of four threads, which the lookups given up on kept blocked:
    after four names of a tenant's whose DNS hangs, every other tenant's receiver was refused as
    not resolving."""
    from anemonefish_services.notifications import webhooks

    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if host.startswith("slow"):
            release.wait(10)
            raise socket.gaierror(socket.EAI_AGAIN, "too late")
        return real("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        for i in range(6):
            with pytest.raises(webhooks.WebhookHostUnresolvedError, match="did not resolve"):
                webhooks._resolve(f"https://slow{i}.example/h", f"slow{i}.example", 443, timeout_s=0.1)
        assert webhooks._resolve("https://hooks.good.example/h", "hooks.good.example", 443, timeout_s=2) == ("127.0.0.1",)
    finally:
        release.set()


def test_each_tenant_gets_its_own_secret_derived_from_the_services():
    """One secret for all would let any tenant sign webhooks another tenant's receiver accepts."""
    from anemonefish_services.notifications import tenant_webhook_secret
    from anemonefish_services.notifications.webhooks import sign_webhook

    a, b = tenant_webhook_secret(SECRET, "tenant-a"), tenant_webhook_secret(SECRET, "tenant-b")
    assert a.startswith("whsec_") and a == tenant_webhook_secret(SECRET, "tenant-a") and a != b != SECRET
    headers = sign_webhook(a, "msg_1", '{"x": 1}', int(time.time()))
    assert Webhook(a).verify('{"x": 1}', headers) == {"x": 1}
    with pytest.raises(Exception):
        Webhook(b).verify('{"x": 1}', headers)
    other_service = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    assert tenant_webhook_secret(other_service, "tenant-a") != a  # rotating the service's secret rotates every tenant's


def test_a_deadline_that_passes_during_the_tls_handshake_still_cuts_the_answer_off(
    tmp_path: Path, fake_dns: dict[str, list[str]]
) -> None:
    """The watchdog must reach a connection whose socket the TLS handshake wraps after the
    deadline (a slow TCP connect can spend the attempt's time before the handshake starts;
    here the attempt's own deadline is simply shorter than the per-read timeout)."""
    import urllib3

    from anemonefish_services.notifications.webhooks import _post_to_address, validate_webhook_url

    ca_path, cert_path, key_path = _tls_material(tmp_path, "hooks.reef.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    stop, listener = threading.Event(), _listening_socket()

    def slow_handshake_then_trickle() -> None:
        raw, _ = listener.accept()
        stop.wait(0.5)  # the ServerHello comes after the attempt's deadline
        try:
            with context.wrap_socket(raw, server_side=True) as connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                for _ in range(40):  # 4 s of headers, then the end of them
                    if stop.wait(0.1):
                        return
                    connection.sendall(b"X-Slow: 1\r\n")
                connection.sendall(b"Content-Length: 0\r\n\r\n")
        except OSError:
            return

    threading.Thread(target=slow_handshake_then_trickle, daemon=True).start()
    fake_dns["hooks.reef.test"] = ["127.0.0.1"]
    target = validate_webhook_url(f"https://hooks.reef.test:{listener.getsockname()[1]}/hook", allow_loopback=True)
    started = time.monotonic()
    try:
        attempt = _post_to_address(target, "127.0.0.1", b"{}", {}, urllib3.Timeout(connect=2.0, read=2.0),
                                   str(ca_path), deadline_s=0.25)
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 1.5, attempt  # not the 4 s of trickled headers
    assert attempt.status_code is None and attempt.retryable


def test_a_name_with_many_addresses_that_drop_connections_stays_within_the_delivery_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each address got the whole connect timeout, one after another: a receiver's name with 12
    addresses that silently drop connections held the API's cancel for 36 s (past API Gateway's
    29), and 60 held the dead-letter consumer's whole run."""
    from anemonefish_services.logic.notify import BRIEF_WEBHOOK_POLICY
    from anemonefish_services.notifications import webhooks

    clock = [1000.0]  # what the delivery's timeouts would spend, without waiting for them
    monkeypatch.setattr(webhooks.time, "monotonic", lambda: clock[0])
    target = webhooks.WebhookTarget(url="https://hooks.reef.test/h", scheme="https", host="hooks.reef.test", port=443,
                                    request_target="/h", addresses=tuple(f"203.0.113.{i}" for i in range(1, 61)))
    monkeypatch.setattr(webhooks, "validate_webhook_url", lambda url, allow_loopback: target)
    tried: list[str] = []

    def dropped(target, address, body, headers, timeout, ca_certs, deadline_s):  # noqa: ANN001, ANN202
        tried.append(address)
        clock[0] += timeout.connect_timeout  # SYN sent, nothing back until the timeout
        return webhooks._Attempt(retryable=True, error="connect timed out", could_not_connect=True)

    monkeypatch.setattr(webhooks, "_post_to_address", dropped)
    outcome = deliver_webhook(target.url, succeeded_event(), secret=SECRET, policy=BRIEF_WEBHOOK_POLICY,
                              sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    assert outcome.outcome == "gave_up"
    assert clock[0] - 1000.0 <= BRIEF_WEBHOOK_POLICY.total_timeout_s
    assert len(tried) <= BRIEF_WEBHOOK_POLICY.max_attempts * webhooks.MAX_ADDRESSES_PER_ATTEMPT
    assert tried[:2] == ["203.0.113.1", "203.0.113.2"]  # in the resolver's order
