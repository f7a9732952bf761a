"""Webhooks: Standard Webhooks signatures on CloudEvents, delivered over HTTP.

A delivery is one CloudEvents 1.0 event in structured mode (``application/cloudevents+json``),
encoded once by :func:`encode_event`; those exact bytes are signed and sent. The signature
follows the Standard Webhooks specification (https://www.standardwebhooks.com): HMAC-SHA256
over ``{webhook-id}.{webhook-timestamp}.{body}`` with the key after the ``whsec_`` prefix,
sent as ``v1,<base64>`` in ``webhook-signature``. Several signatures, space-separated, let a
subscription rotate its secret without downtime.

:class:`WebhookSender` makes one attempt to a checked
:class:`~phasedcare.service.webhook_targets.WebhookTarget` and reports it as a
:class:`DeliveryAttempt`: it connects to the address that was checked, never resolving the
name again, with the name kept in the Host header and as the TLS server name;
:func:`next_attempt_delay` says when to try again, up to :data:`MAX_ATTEMPTS`. Nothing here
stores or schedules anything: the caller does. An attempt's ``error`` never holds the response
body or the URL, since either may echo data.

Errors raised here, all in :mod:`phasedcare.errors`::

    InvalidInput          a webhook URL, event or secret that cannot be used
    └── SignatureInvalid  a received webhook whose signature, id or timestamp does not verify
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http
import json
import random
import re
import secrets as _secrets
import time as _time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from phasedcare.errors import InvalidInput, SignatureInvalid
from phasedcare.service.webhook_targets import WebhookTarget

__all__ = [
    "CONTENT_TYPE",
    "MAX_ATTEMPTS",
    "DeliveryAttempt",
    "WebhookSender",
    "cloud_event",
    "encode_event",
    "new_secret",
    "next_attempt_delay",
    "sign",
    "signed_headers",
    "verify",
]

CONTENT_TYPE = "application/cloudevents+json"
"""The media type of a CloudEvent in structured mode, as sent with every delivery."""

MAX_ATTEMPTS = 32
"""Attempts made for one delivery, the first included, before it is given up: backoff from
5 s doubling to a 1 h cap, with jitter, spreads them over roughly 12 to 24 hours, so a
receiver that is down for a night still gets everything."""

_PREFIX = "whsec_"
_VERSION = "v1"
_KEY_BYTES = (24, 64)  # the specification's bounds for a symmetric signing secret
_FIRST_STEP_SECONDS = 5.0
_MAX_DELAY_SECONDS = 3600.0
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_DELAY_SECONDS = re.compile(r"\d{1,9}")


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return _PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode("ascii")


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one message under one ``whsec_`` secret.

    Raises:
        InvalidInput: the secret is malformed, or the id is empty or holds a full stop.
    """
    if not msg_id or "." in msg_id:
        raise InvalidInput("a webhook id must be non-empty without a '.'", field="msg_id")
    return _signature(_decode_secret(secret), msg_id=msg_id, timestamp=timestamp, body=body)


def signed_headers(
    secret: str | Sequence[str], *, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The Standard Webhooks headers for one message, one signature per secret.

    Pass the current and the previous secret while a subscription rotates its secret: the
    receiver accepts the message when any signature matches the secret it holds.
    """
    keys = [secret] if isinstance(secret, str) else list(secret)
    if not keys:
        raise InvalidInput("a webhook needs at least one signing secret", field="secret")
    signatures = [sign(key, msg_id=msg_id, timestamp=timestamp, body=body) for key in keys]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
        "content-type": CONTENT_TYPE,
    }


def verify(
    secret: str,
    *,
    headers: Mapping[str, str],
    body: bytes,
    now: int | None = None,
    tolerance_seconds: int = 300,
) -> None:
    """Check a received webhook's signature and timestamp; return only when both hold.

    Header names are matched case-insensitively and signatures compared in constant time.

    Raises:
        SignatureInvalid: a header is missing, the timestamp is malformed or outside the
            tolerance, the secret is malformed, or no ``v1`` signature matches.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id, stamp, offered = (
        _header(lowered, name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    timestamp = _parse_timestamp(stamp)
    _check_freshness(
        timestamp, now=int(_time.time()) if now is None else now, tolerance=tolerance_seconds
    )
    try:
        key = _decode_secret(secret)
    except InvalidInput as exc:
        raise SignatureInvalid(exc.message) from None
    expected = _signature(key, msg_id=msg_id, timestamp=timestamp, body=body).encode("ascii")
    if not any(hmac.compare_digest(expected, candidate) for candidate in _v1_entries(offered)):
        raise SignatureInvalid("no v1 signature in webhook-signature matches the secret")


def cloud_event(
    *,
    event_id: str,
    event_type: str,
    source: str,
    subject: str,
    time: datetime,
    data: Mapping[str, object],
) -> dict[str, object]:
    """A CloudEvents 1.0 event in structured mode, with JSON data and its time in UTC.

    Raises:
        InvalidInput: a required attribute is empty or the time has no timezone.
    """
    for field, value in (("event_id", event_id), ("event_type", event_type), ("source", source)):
        if not value:
            raise InvalidInput(f"a CloudEvent needs a non-empty {field}", field=field)
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "subject": subject,
        "time": _rfc3339(time),
        "datacontenttype": "application/json",
        "data": dict(data),
    }


def encode_event(event: Mapping[str, object]) -> bytes:
    """The bytes of an event as signed and sent: compact JSON, sorted keys, UTF-8.

    Raises:
        InvalidInput: the event holds a value JSON cannot represent (the value is not named).
    """
    try:
        text = json.dumps(
            event, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        message = f"the event cannot be encoded as JSON ({type(exc).__name__})"
        raise InvalidInput(message, field="data") from None
    return text.encode("utf-8")


@dataclass(frozen=True)
class DeliveryAttempt:
    """The outcome of one delivery attempt.

    Attributes:
        ok: the receiver answered 2xx.
        status: the HTTP status, or None when no answer came (connection error, timeout).
        error: why it failed, in words of our own: never the response body or the URL.
        retry_after_seconds: a numeric ``Retry-After`` sent with 429 or 503, else None.
        gone: the receiver answered 410 Gone; the subscription should be disabled.
    """

    ok: bool
    status: int | None
    error: str
    retry_after_seconds: float | None
    gone: bool = False


class WebhookSender:
    """Delivers signed CloudEvents by HTTP POST, one attempt per call, never following redirects.

    Each attempt connects to the target's checked address (pinned: no second DNS lookup that
    a rebinding name could answer differently) and keeps no connection alive, so that no
    connection made for one name carries a request for another. The response body is never
    read. Use it as a context manager or call :meth:`close`; a client passed in is left open
    for its owner to close.
    """

    def __init__(self, *, timeout_seconds: float = 5.0, client: httpx.Client | None = None) -> None:
        self._timeout = httpx.Timeout(timeout_seconds)
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=self._timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(
        self,
        *,
        target: WebhookTarget,
        secrets: Sequence[str],
        msg_id: str,
        event: Mapping[str, object],
        timestamp: int,
    ) -> DeliveryAttempt:
        """POST one event to ``target``'s checked address, signed with every secret, and
        report the outcome.

        Transport failures come back as an attempt with ``status=None``, never as an exception;
        bad input (a malformed secret, an event JSON cannot hold) still raises InvalidInput.
        """
        body = encode_event(event)
        headers = signed_headers(secrets, msg_id=msg_id, timestamp=timestamp, body=body)
        headers["host"] = target.host_header
        tls = {} if target.server_name is None else {"sni_hostname": target.server_name}
        try:
            with self._client.stream(
                "POST",
                target.connect_url,
                content=body,
                headers=headers,
                follow_redirects=False,
                timeout=self._timeout,
                extensions=tls,
            ) as response:
                return _attempt_from(response.status_code, response.headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return DeliveryAttempt(
                ok=False, status=None, error=type(exc).__name__, retry_after_seconds=None
            )

    def close(self) -> None:
        """Close the HTTP client if this sender made it."""
        if self._owns_client:
            self._client.close()


def next_attempt_delay(
    attempt: int,
    *,
    rng: random.Random | None = None,
    retry_after_seconds: float | None = None,
) -> timedelta:
    """How long to wait after ``attempt`` attempts before the next one.

    The step doubles from 5 seconds (5, 10, 20, ...) up to an hour, and the delay is drawn
    uniformly between half the step and the whole step (jitter spreads retries out). A
    ``Retry-After`` that asks for longer wins, capped at an hour too.

    Raises:
        InvalidInput: ``attempt`` is below 1.
    """
    if attempt < 1:
        raise InvalidInput("the attempts already made must be at least 1", field="attempt")
    step = min(_FIRST_STEP_SECONDS * 2 ** min(attempt - 1, 32), _MAX_DELAY_SECONDS)
    delay = (rng or random.SystemRandom()).uniform(step / 2, step)
    if retry_after_seconds is not None:
        delay = max(delay, min(retry_after_seconds, _MAX_DELAY_SECONDS))
    return timedelta(seconds=delay)


def _decode_secret(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret."""
    if not secret.startswith(_PREFIX):
        raise InvalidInput("a webhook secret must start with 'whsec_'", field="secret")
    try:
        key = base64.b64decode(secret.removeprefix(_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            "a webhook secret must be base64 after 'whsec_'", field="secret"
        ) from None
    low, high = _KEY_BYTES
    if not low <= len(key) <= high:
        raise InvalidInput(
            f"a webhook secret must hold {low} to {high} bytes, not {len(key)}", field="secret"
        )
    return key


def _signature(key: bytes, *, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return f"{_VERSION},{base64.b64encode(digest).decode('ascii')}"


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise SignatureInvalid(f"the {name} header is missing")
    return value


def _parse_timestamp(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise SignatureInvalid("the webhook-timestamp header is not integer seconds")
    return int(value)


def _check_freshness(timestamp: int, *, now: int, tolerance: int) -> None:
    if timestamp < now - tolerance:
        raise SignatureInvalid(
            f"the webhook-timestamp is {now - timestamp} s old, beyond the {tolerance} s tolerance"
        )
    if timestamp > now + tolerance:
        raise SignatureInvalid(
            f"the webhook-timestamp is {timestamp - now} s in the future, "
            f"beyond the {tolerance} s tolerance"
        )


def _v1_entries(header: str) -> Iterator[bytes]:
    """The ``v1`` signatures of a ``webhook-signature`` header; other schemes are skipped."""
    for entry in header.split():
        version, _, _ = entry.partition(",")
        if version == _VERSION:
            yield entry.encode("utf-8")


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput("a CloudEvent's time needs a timezone", field="time")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _attempt_from(status: int, headers: httpx.Headers) -> DeliveryAttempt:
    """Judge a response by its status and headers alone."""
    if 200 <= status < 300:
        return DeliveryAttempt(ok=True, status=status, error="", retry_after_seconds=None)
    retry_after = _retry_after(headers) if status in _RETRY_AFTER_STATUSES else None
    return DeliveryAttempt(
        ok=False,
        status=status,
        error=_status_error(status),
        retry_after_seconds=retry_after,
        gone=status == http.HTTPStatus.GONE,
    )


def _status_error(status: int) -> str:
    """Our own words for a failed status: the server's reason phrase is never used."""
    if status == http.HTTPStatus.GONE:
        return "HTTP 410 Gone: the receiver asks for no more deliveries"
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed; update the webhook URL"
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _retry_after(headers: httpx.Headers) -> float | None:
    """A ``Retry-After`` in delay-seconds; the HTTP-date form is ignored."""
    value = headers.get("retry-after", "").strip()
    return float(value) if _DELAY_SECONDS.fullmatch(value) else None
