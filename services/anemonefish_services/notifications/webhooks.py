"""Signed, retried, SSRF-safe delivery of a job's terminal-state webhook.

Signing is the ``standardwebhooks`` package (Standard Webhooks: ``webhook-id``,
``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``).

Transport is urllib3 directly rather than ``requests``: the URL policy resolves the host
once, checks *every* address, and the request then connects to one of exactly those
checked addresses (TLS still verifies the certificate and sends SNI for the hostname).
That defeats DNS rebinding (a second, different answer at connect time), which ``requests``
cannot do without patching its adapters. It also ignores ``HTTP(S)_PROXY`` variables, which
would otherwise resolve the host themselves. Redirects are never followed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import ipaddress
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import SplitResult, urlsplit

import urllib3
from standardwebhooks import Webhook

from anemonefish_services.notifications.errors import WebhookUrlError
from anemonefish_services.notifications.payload import JobEvent

try:  # the CA bundle requests uses; without it urllib3 falls back to the system store
    import certifi

    _DEFAULT_CA_CERTS: str | None = certifi.where()
except ImportError:  # pragma: no cover - certifi comes with requests
    _DEFAULT_CA_CERTS = None

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

USER_AGENT = "anemonefish-webhooks/1"
MAX_URL_LENGTH = 2048

# Instance metadata services (AWS IMDS over IPv4 and IPv6): named in the refusal message.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)

# Ranges a webhook may never reach, beyond what ``ipaddress`` calls non-global. Listed
# explicitly so the policy does not depend on the Python patch release's tables.
_REFUSED_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol assignment address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay anycast address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001::/23", "an IETF protocol assignment address"),
        ("2001:db8::/32", "a documentation address"),
        ("fc00::/7", "a unique local (ULA) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4), which is where it goes."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_loopback_address(address: IPAddress) -> bool:
    """127.0.0.0/8, ::1, or an IPv6 form of an IPv4 loopback address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return embedded.is_loopback
    return address.is_loopback


def address_refusal_reason(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a webhook may not be sent to ``address``, or ``None`` if it may."""
    if allow_loopback and is_loopback_address(address):
        return None
    if address in METADATA_ADDRESSES:
        return "the instance metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal_reason(embedded, allow_loopback=False)
            if reason is not None:
                return f"{reason} (embedded in an IPv6 address)"
            if address.ipv4_mapped is not None:
                return None  # ::ffff:a.b.c.d is a.b.c.d, which is public
    for network, why in _REFUSED_NETWORKS:
        if address.version == network.version and address in network:
            return why
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_reserved or address.is_private or not address.is_global:
        return "a non-public address"
    return None


class WebhookHostUnresolvedError(WebhookUrlError):
    """The host did not resolve. Refused when a job is created; retried at delivery."""

    code = "webhook_host_unresolved"


@dataclass(frozen=True)
class WebhookTarget:
    """A URL that passed the policy, with the addresses it was checked against."""

    url: str
    scheme: Literal["http", "https"]
    host: str  # ASCII (IDNA) hostname or IP literal, no brackets
    port: int
    request_target: str  # path and query, e.g. "/hooks?x=1"
    addresses: tuple[str, ...]  # every resolved address; all passed the policy

    @property
    def host_is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def redact_url(url: str) -> str:
    """The URL's scheme, host and port, and a short digest of the whole for telling receivers
    apart: safe to log. Userinfo, query and path may all carry tokens (Slack's and Discord's
    webhook URLs hold theirs in the path)."""
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"<unparseable URL sha256:{digest}>"
    return f"{parts.scheme}://{host}{port}/… (sha256:{digest})"


def _split(url: str, allow_loopback: bool) -> tuple[SplitResult, str, int]:
    if not isinstance(url, str) or not url:
        raise WebhookUrlError(str(url), "the URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlError(url[:64], f"the URL is longer than {MAX_URL_LENGTH} characters")
    # urlsplit silently drops tabs and newlines; refuse them (and other controls) instead.
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url) or "\\" in url:
        raise WebhookUrlError(url, "the URL contains whitespace, control characters or '\\'")
    try:
        parts = urlsplit(url)
        parts.hostname  # noqa: B018 - parses (and validates) a bracketed IPv6 host
    except ValueError as exc:
        raise WebhookUrlError(url, f"the URL cannot be parsed ({exc})") from None
    scheme = parts.scheme.lower()
    allowed_schemes = ("http", "https") if allow_loopback else ("https",)
    if scheme not in allowed_schemes:
        raise WebhookUrlError(url, f"the scheme must be https, not {scheme or 'missing'!r}")
    if "@" in parts.netloc:
        raise WebhookUrlError(url, "credentials (user:password@) are not allowed in the URL")
    host = parts.hostname
    if not host:
        raise WebhookUrlError(url, "the URL has no host")
    if "%" in host:
        raise WebhookUrlError(url, "IPv6 zone identifiers are not allowed")
    try:
        port = parts.port
    except ValueError:
        raise WebhookUrlError(url, "the port is not a number between 0 and 65535") from None
    if port is None:
        port = 443 if scheme == "https" else 80
    # Public receivers listen on 443 (or 80) or an unprivileged port; other privileged
    # ports (SSH, SMTP, ...) are never webhook receivers and are a classic SSRF target.
    if port == 0 or (port < 1024 and port not in (80, 443) and not allow_loopback):
        raise WebhookUrlError(url, f"port {port} is not allowed (use 443, 80 or 1024-65535)")
    return parts, scheme, port


def _ascii_host(url: str, host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").rstrip(".").lower()
    except UnicodeError:
        raise WebhookUrlError(url, f"the host {host!r} is not a valid hostname") from None
    if not ascii_host or not all(
        label and len(label) <= 63 and all(c.isalnum() or c in "-_" for c in label)
        for label in ascii_host.split(".")
    ):
        raise WebhookUrlError(url, f"the host {host!r} is not a valid hostname")
    return ascii_host


# getaddrinfo has no timeout of its own and a slow resolver would hold the API request
# or the worker's delivery; the lookup is abandoned after this.
DNS_TIMEOUT_S = 5.0


def _getaddrinfo_within(host: str, port: int, timeout_s: float) -> list[tuple]:
    """``socket.getaddrinfo`` in a thread of its own, given up on after ``timeout_s``
    (:class:`TimeoutError`). Its own thread: in a shared pool of four, the threads of lookups
    given up on stayed blocked, and four names whose DNS hangs (a tenant's) left none for the
    next tenant's receiver. An abandoned thread ends when the system resolver gives up."""
    outcome: dict[str, Any] = {}

    def look_up() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=look_up, name="webhook-dns", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError
    if "error" in outcome:
        raise outcome["error"]
    return outcome["infos"]


def _resolve(url: str, host: str, port: int, timeout_s: float = DNS_TIMEOUT_S) -> tuple[str, ...]:
    try:
        infos = _getaddrinfo_within(host, port, timeout_s)
    except TimeoutError:
        raise WebhookHostUnresolvedError(url, f"the host {host!r} did not resolve within {timeout_s:g} s") from None
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise WebhookHostUnresolvedError(url, f"the host {host!r} does not resolve ({exc})") from None
    addresses: list[str] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise WebhookHostUnresolvedError(url, f"the host {host!r} resolves to no address")
    return tuple(addresses)


def validate_webhook_url(url: str, *, allow_loopback: bool = False) -> WebhookTarget:
    """Check ``url`` against the webhook policy and resolve it; raise :class:`WebhookUrlError`.

    Only https, no userinfo, no privileged ports but 443/80, and *every* address the host
    resolves to must be public (no private, loopback, link-local, CGNAT, ULA, multicast,
    reserved, unspecified, metadata, or IPv6 forms embedding such an IPv4). With
    ``allow_loopback`` (local mode) http and https to loopback hosts are accepted too.
    Call it when a job is created and again right before each delivery (the delivery
    then connects to one of the returned ``addresses`` only).
    """
    parts, scheme, port = _split(url, allow_loopback)
    host = _ascii_host(url, parts.hostname or "")
    if not allow_loopback and (host == "localhost" or host.endswith(".localhost")):
        raise WebhookUrlError(url, f"the host {host!r} is a loopback name")
    addresses = _resolve(url, host, port)
    for text in addresses:
        address = ipaddress.ip_address(text)
        reason = address_refusal_reason(address, allow_loopback=allow_loopback)
        if reason is not None:
            shown = host if host == text else f"{host} ({text})"
            raise WebhookUrlError(url, f"{shown} is {reason}")
        if scheme == "http" and not is_loopback_address(address):
            raise WebhookUrlError(url, "the scheme must be https (http only to loopback in local mode)")
    request_target = parts.path or "/"
    if parts.query:
        request_target = f"{request_target}?{parts.query}"
    return WebhookTarget(
        url=url,
        scheme="https" if scheme == "https" else "http",
        host=host,
        port=port,
        request_target=request_target,
        addresses=addresses,
    )


def webhook_message_id(job_id: str, status: str, ended_at: datetime) -> str:
    """The ``webhook-id``: the same for every retry of one job's terminal state, so
    receivers can drop duplicates; different for another job or another state. When the job
    ended is part of it: a job id comes back when an Idempotency-Key is used again after its
    record expired, and that job's end is news a receiver must not drop as a repeat."""
    ended = ended_at.astimezone(UTC).isoformat()
    return "msg_" + uuid.uuid5(uuid.NAMESPACE_URL, f"anemonefish:job:{job_id}:{status}:{ended}").hex


def tenant_webhook_secret(master_secret: str, tenant_id: str) -> str:
    """The tenant's own Standard Webhooks secret (``whsec_…``), derived from the service's.

    One secret for every tenant would let any tenant that can verify its webhooks also sign
    webhooks that another tenant's receiver accepts. An HMAC of the tenant id under the
    service's key gives each its own, with nothing to store; rotating the service's secret
    rotates them all. A tenant reads its own through ``GET /webhook-secret``.
    """
    key = base64.b64decode(master_secret.removeprefix("whsec_"))
    derived = hmac.new(key, f"anemonefish-webhooks:{tenant_id}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(derived).decode()


def sign_webhook(secret: str | bytes, webhook_id: str, body: str, timestamp: int) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` sent at ``timestamp`` (Unix seconds)."""
    signature = Webhook(secret).sign(webhook_id, datetime.fromtimestamp(timestamp, UTC), body)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


@dataclass(frozen=True)
class WebhookRetryPolicy:
    """Bounded exponential backoff with jitter. The worker waits for delivery, so the total
    time is capped well below the Lambda timeout."""

    max_attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 16.0
    total_timeout_s: float = 60.0
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0

    def backoff_s(self, attempt: int, rng: random.Random) -> float:
        """Delay after failed attempt ``attempt`` (1-based): "equal jitter", i.e. uniform in
        [cap/2, cap] with cap = min(max_delay, base * 2**(attempt-1))."""
        cap = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return cap / 2 + rng.uniform(0, cap / 2)


WebhookOutcome = Literal["delivered", "rejected", "refused", "gave_up", "error"]


@dataclass(frozen=True)
class WebhookDelivery:
    """How a delivery ended; the caller logs it (``as_log()``). ``delivered`` is the one
    outcome that means the receiver took the message (a 2xx answer)."""

    outcome: WebhookOutcome
    webhook_id: str
    url: str  # redacted: no query, no userinfo
    attempts: int  # requests sent (or tried) to the receiver
    status_code: int | None  # last HTTP status received, if any
    error: str | None
    elapsed_s: float

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"

    def as_log(self) -> dict[str, object]:
        return {
            "webhook_outcome": self.outcome,
            "webhook_id": self.webhook_id,
            "webhook_url": self.url,
            "webhook_attempts": self.attempts,
            "webhook_status_code": self.status_code,
            "webhook_error": self.error,
            "webhook_elapsed_s": round(self.elapsed_s, 3),
        }


RETRYABLE_STATUS = frozenset({408, 425, 429})


def _is_retryable_status(status: int) -> bool:
    return status >= 500 or status in RETRYABLE_STATUS


def _retry_after_s(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True)
class _Attempt:
    retryable: bool
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    could_not_connect: bool = False  # nothing reached the receiver: try its next address


# Addresses one attempt tries. A name can resolve to dozens, each silently dropping the
# connection: tried one after another with a timeout each, they held a delivery for minutes.
MAX_ADDRESSES_PER_ATTEMPT = 3


def _post_once(
    target: WebhookTarget,
    body: bytes,
    headers: dict[str, str],
    policy: WebhookRetryPolicy,
    ca_certs: str | None,
    attempt_ends: float,
) -> _Attempt:
    """One attempt: try the first checked addresses in resolver order until one connects, all
    of them together before ``attempt_ends`` (``time.monotonic()``)."""
    attempt = None
    for address in target.addresses[:MAX_ADDRESSES_PER_ATTEMPT]:
        remaining = attempt_ends - time.monotonic()
        if remaining <= 0:
            break
        timeout = urllib3.Timeout(connect=min(policy.connect_timeout_s, remaining),
                                  read=min(policy.read_timeout_s, remaining))
        attempt = _post_to_address(target, address, body, headers, timeout, ca_certs, remaining)
        if not attempt.could_not_connect:
            return attempt
    # None tried: the lookup of the receiver's host took the attempt's whole time.
    return attempt or _Attempt(retryable=True, error="the attempt's time was spent before connecting")


def _post_to_address(
    target: WebhookTarget,
    address: str,
    body: bytes,
    headers: dict[str, str],
    timeout: urllib3.Timeout,
    ca_certs: str | None,
    deadline_s: float,
) -> _Attempt:
    """POST to one address, the whole exchange within ``deadline_s``: urllib3's read timeout
    bounds each read only, and a receiver that sends a byte every few seconds would otherwise
    hold the worker (and every job behind it) for as long as it likes."""
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        tls_names: dict[str, str] = (
            {} if target.host_is_ip else {"server_hostname": target.host, "assert_hostname": target.host}
        )
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs or _DEFAULT_CA_CERTS,
            **tls_names,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)
    # The watchdog acts on the connection's file descriptor from the moment its TCP socket
    # exists: a TLS handshake wraps that socket in another object, and a deadline that passes
    # during the handshake must cut it too. One lock orders it against the end of the attempt,
    # so it never touches a descriptor the attempt has closed (and the system may reuse).
    guard = threading.Lock()
    descriptors: list[int] = []
    expired = threading.Event()
    finished = False

    def cut(fd: int) -> None:
        with contextlib.suppress(OSError):
            view = socket.socket(fileno=fd)  # another view of the same socket, whatever wraps it
            try:
                view.shutdown(socket.SHUT_RDWR)  # a blocked connect, handshake or read returns at once
            finally:
                view.detach()  # the descriptor stays the connection's to close

    class _Watched(pool.ConnectionCls):  # type: ignore[misc,name-defined]
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            with guard:
                descriptors.append(sock.fileno())
                if expired.is_set():
                    cut(sock.fileno())
            return sock

    pool.ConnectionCls = _Watched

    def cut_off() -> None:
        with guard:
            if finished:
                return
            expired.set()
            for fd in descriptors:
                cut(fd)

    watchdog = threading.Timer(deadline_s, cut_off)
    watchdog.daemon = True
    watchdog.start()
    try:
        return _exchange(pool, target, body, headers, expired, deadline_s)
    finally:
        watchdog.cancel()
        with guard:
            finished = True
        pool.close()


def _exchange(
    pool: urllib3.HTTPConnectionPool, target: WebhookTarget, body: bytes, headers: dict[str, str],
    expired: threading.Event, deadline_s: float,
) -> _Attempt:
    try:
        response = pool.urlopen(
            "POST",
            target.request_target,
            body=body,
            headers={"Host": target.host_header, **headers},
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        status = response.status
        retry_after = _retry_after_s(response.headers.get("Retry-After"))
        response.close()  # the body is not needed; do not read what the receiver sends
    except urllib3.exceptions.SSLError as exc:
        if expired.is_set():  # the watchdog cut the handshake: slow, not a bad certificate
            return _Attempt(retryable=True, error=f"no complete answer within {deadline_s:.0f} s")
        # Almost always a certificate the receiver must fix: retrying will not help.
        return _Attempt(retryable=False, error=f"TLS error: {exc}")
    except urllib3.exceptions.ConnectTimeoutError as exc:  # includes refused connections
        return _Attempt(retryable=True, error=f"{type(exc).__name__}: {exc}", could_not_connect=True)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if expired.is_set():
            return _Attempt(retryable=True, error=f"no complete answer within {deadline_s:.0f} s")
        # Read timeouts, resets, protocol errors: transient.
        return _Attempt(retryable=True, error=f"{type(exc).__name__}: {exc}")
    if expired.is_set():  # cut off mid-headers, http.client may still have parsed a status
        return _Attempt(retryable=True, error=f"no complete answer within {deadline_s:.0f} s")
    if 200 <= status < 300:
        return _Attempt(retryable=False, status_code=status)
    if 300 <= status < 400:
        return _Attempt(retryable=False, status_code=status, error=f"HTTP {status} (redirects are not followed)")
    return _Attempt(
        retryable=_is_retryable_status(status),
        status_code=status,
        error=f"HTTP {status}",
        retry_after_s=retry_after if status in (429, 503) else None,
    )


def deliver_webhook(
    url: str,
    event: JobEvent,
    *,
    secret: str | bytes,
    allow_loopback: bool = False,
    policy: WebhookRetryPolicy | None = None,
    ca_certs: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> WebhookDelivery:
    """POST ``event`` to ``url``, signed with ``secret``; retry transient failures.

    Retries 5xx, 408, 425, 429 (honouring ``Retry-After``), timeouts and connection errors
    with exponential backoff and jitter, within ``policy.max_attempts`` and
    ``policy.total_timeout_s``. Other answers (2xx, 3xx, 4xx) end it at once. The URL is
    re-validated and re-resolved before every attempt, and the request connects only to an
    address that passed. Never raises: the returned :class:`WebhookDelivery` says how it
    ended.
    """
    policy = policy or WebhookRetryPolicy()
    rng = rng or random.Random()
    started = time.monotonic()
    deadline = started + policy.total_timeout_s
    safe_url = redact_url(url)
    webhook_id = webhook_message_id(event.data.job_id, event.data.status, event.timestamp)
    attempts = 0
    status_code: int | None = None

    def done(outcome: WebhookOutcome, error: str | None) -> WebhookDelivery:
        return WebhookDelivery(
            outcome=outcome,
            webhook_id=webhook_id,
            url=safe_url,
            attempts=attempts,
            status_code=status_code,
            error=error,
            elapsed_s=time.monotonic() - started,
        )

    try:
        body = event.to_json(include_tenant=False)
        Webhook(secret)  # fail early on a malformed secret, before any request
    except Exception as exc:  # never raise to the caller: a webhook never fails a job
        return done("error", f"cannot prepare the webhook: {type(exc).__name__}: {exc}")

    try:
        while True:
            attempts += 1
            try:
                target = validate_webhook_url(url, allow_loopback=allow_loopback)
            except WebhookHostUnresolvedError as exc:
                result = _Attempt(retryable=True, error=exc.reason)
            except WebhookUrlError as exc:
                attempts -= 1  # nothing was sent
                return done("refused", exc.reason)
            else:
                timestamp = int(time.time())
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                    **sign_webhook(secret, webhook_id, body, timestamp),
                }
                # The whole exchange, not each read, over every address tried: connect and read
                # timeouts together at most, and never past the delivery's deadline.
                attempt_ends = min(time.monotonic() + policy.connect_timeout_s + policy.read_timeout_s, deadline)
                result = _post_once(target, body.encode("utf-8"), headers, policy, ca_certs, attempt_ends)
                status_code = result.status_code
            if result.status_code is not None and 200 <= result.status_code < 300:
                return done("delivered", None)
            if not result.retryable:
                return done("rejected", result.error)
            if attempts >= policy.max_attempts:
                return done("gave_up", f"{result.error} (after {attempts} attempts)")
            delay = policy.backoff_s(attempts, rng)
            if result.retry_after_s is not None:
                delay = max(delay, min(result.retry_after_s, policy.max_delay_s))
            if time.monotonic() + delay >= deadline:
                return done("gave_up", f"{result.error} (retry budget of {policy.total_timeout_s:g} s spent)")
            sleep(delay)
    except Exception as exc:  # defensive: a bug here must not fail the job either
        return done("error", f"unexpected {type(exc).__name__}: {exc}")
