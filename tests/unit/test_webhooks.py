"""Webhooks: Standard Webhooks signatures, CloudEvents, retry delays and delivery over HTTP."""

from __future__ import annotations

import base64
import random
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from phasedcare.errors import InvalidInput, SignatureInvalid, TargetRefused
from phasedcare.service.webhook_targets import WebhookTargets
from phasedcare.service.webhooks import (
    MAX_ATTEMPTS,
    WebhookSender,
    cloud_event,
    encode_event,
    new_secret,
    next_attempt_delay,
    sign,
    signed_headers,
    verify,
)
from receiver import WebhookReceiver

# The published test vector of the Standard Webhooks reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105  # the public test vector
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LOOPBACK = WebhookTargets(allow_loopback=True)
"""Targets as tests check them: loopback allowed, so the local receiver may be reached."""
PUBLIC = {"hooks.example.org": ["93.184.215.14"]}
CANARY = "Zorro Kanariepiet"


def vector_headers() -> dict[str, str]:
    """The headers of the test vector's message."""
    return {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def an_event(event_id: str = "evt-1") -> dict[str, object]:
    """A small handover event."""
    return cloud_event(
        event_id=event_id,
        event_type="nl.phasedcare.handover.proposed",
        source="/phasedcare/vt-ijsselland",
        subject="c-1",
        time=AT,
        data={"handover_id": "h-1", "to": "wijkteam-zwolle"},
    )


@pytest.fixture
def secret() -> str:
    """A fresh signing secret."""
    return new_secret()


@pytest.fixture
def rx(secret: str) -> Iterator[WebhookReceiver]:
    """A running receiver that holds ``secret``."""
    with WebhookReceiver(secret=secret) as receiver:
        yield receiver


@pytest.fixture
def sender() -> Iterator[WebhookSender]:
    """A sender with a short timeout, closed afterwards."""
    with WebhookSender(timeout_seconds=2.0) as webhook_sender:
        yield webhook_sender


def deliver(
    sender: WebhookSender, rx: WebhookReceiver, secret: str, *, msg_id: str = "msg-1"
) -> Any:
    """Send ``an_event()`` to the receiver now, signed with ``secret``."""
    return sender.send(
        target=LOOPBACK.check(rx.url),
        secrets=[secret],
        msg_id=msg_id,
        event=an_event(),
        timestamp=int(time.time()),
    )


# Signatures


def test_sign_reproduces_the_standard_webhooks_test_vector() -> None:
    """The signature equals the one the reference libraries compute."""
    actual = sign(VECTOR_SECRET, msg_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)
    assert actual == VECTOR_SIGNATURE


def test_verify_accepts_the_test_vector_within_the_tolerance() -> None:
    """The reference message verifies 299 s after it was signed."""
    verify(
        VECTOR_SECRET,
        headers=vector_headers(),
        body=VECTOR_BODY,
        now=VECTOR_TIMESTAMP + 299,
    )


def test_header_names_are_matched_case_insensitively() -> None:
    """Webhook-Id and WEBHOOK-SIGNATURE are the same headers as their lower-case names."""
    headers = {
        name.upper() if "sig" in name else name.title(): v for name, v in vector_headers().items()
    }
    verify(VECTOR_SECRET, headers=headers, body=VECTOR_BODY, now=VECTOR_TIMESTAMP)


@pytest.mark.parametrize(
    ("header", "value", "body"),
    [
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJeK", VECTOR_BODY),
        ("webhook-timestamp", str(VECTOR_TIMESTAMP + 1), VECTOR_BODY),
        ("webhook-id", VECTOR_ID, b'{"test": 2432232315}'),
        ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=", VECTOR_BODY),
    ],
    ids=["id", "timestamp", "body", "signature"],
)
def test_a_tampered_message_is_rejected(header: str, value: str, body: bytes) -> None:
    """Changing the id, timestamp, body or signature by one character breaks verification."""
    headers = {**vector_headers(), header: value}
    with pytest.raises(SignatureInvalid, match="no v1 signature"):
        verify(VECTOR_SECRET, headers=headers, body=body, now=VECTOR_TIMESTAMP)


@pytest.mark.parametrize(
    ("offset", "words"), [(301, "s old"), (-301, "s in the future")], ids=["stale", "future"]
)
def test_a_timestamp_outside_the_tolerance_is_rejected(offset: int, words: str) -> None:
    """A correctly signed message more than 300 s from now is refused (replay protection)."""
    with pytest.raises(SignatureInvalid, match=f"{abs(offset)} {words}, beyond the 300 s"):
        verify(
            VECTOR_SECRET, headers=vector_headers(), body=VECTOR_BODY, now=VECTOR_TIMESTAMP + offset
        )


def test_the_tolerance_can_be_narrowed() -> None:
    """With a 10 s tolerance, a message 11 s old is refused."""
    with pytest.raises(SignatureInvalid, match="11 s old"):
        verify(
            VECTOR_SECRET,
            headers=vector_headers(),
            body=VECTOR_BODY,
            now=VECTOR_TIMESTAMP + 11,
            tolerance_seconds=10,
        )


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_named(header: str) -> None:
    """Each of the three headers is required, and the refusal says which one is missing."""
    headers = {k: v for k, v in vector_headers().items() if k != header}
    with pytest.raises(SignatureInvalid, match=f"the {header} header is missing"):
        verify(VECTOR_SECRET, headers=headers, body=VECTOR_BODY, now=VECTOR_TIMESTAMP)


@pytest.mark.parametrize("stamp", ["1614265330.0", "+1614265330", "1_614_265_330", "soon"])
def test_a_timestamp_that_is_not_integer_seconds_is_rejected(stamp: str) -> None:
    """Only plain digits are a webhook-timestamp."""
    headers = {**vector_headers(), "webhook-timestamp": stamp}
    with pytest.raises(SignatureInvalid, match="not integer seconds"):
        verify(VECTOR_SECRET, headers=headers, body=VECTOR_BODY, now=VECTOR_TIMESTAMP)


@pytest.mark.parametrize(
    ("bad_secret", "words"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!!", "must be base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes, not 5"),
    ],
    ids=["no-prefix", "not-base64", "too-short"],
)
def test_a_malformed_secret_is_refused_when_verifying_and_signing(
    bad_secret: str, words: str
) -> None:
    """A secret that is not whsec_ and base64 of 24 to 64 bytes is never used as a key."""
    with pytest.raises(SignatureInvalid, match=words):
        verify(bad_secret, headers=vector_headers(), body=VECTOR_BODY, now=VECTOR_TIMESTAMP)
    with pytest.raises(InvalidInput, match=words) as raised:
        sign(bad_secret, msg_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)
    assert raised.value.field == "secret"


def test_a_signature_invalid_error_is_invalid_input_about_the_signature() -> None:
    """SignatureInvalid sits under InvalidInput and names the webhook-signature field."""
    with pytest.raises(InvalidInput) as raised:
        verify(new_secret(), headers=vector_headers(), body=VECTOR_BODY, now=VECTOR_TIMESTAMP)
    assert isinstance(raised.value, SignatureInvalid)
    assert raised.value.field == "webhook-signature"


def test_rotation_signs_with_every_secret_and_either_verifies() -> None:
    """During a rotation both the old and the new secret verify; a third does not."""
    old, new = new_secret(), new_secret()
    headers = signed_headers([old, new], msg_id="msg-1", timestamp=1000, body=b"{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(old, headers=headers, body=b"{}", now=1000)
    verify(new, headers=headers, body=b"{}", now=1000)
    with pytest.raises(SignatureInvalid):
        verify(new_secret(), headers=headers, body=b"{}", now=1000)


def test_signed_headers_name_the_message_and_the_cloudevents_type() -> None:
    """The headers carry id, timestamp, signature and the CloudEvents structured media type."""
    expected = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
        "content-type": "application/cloudevents+json",
    }
    actual = signed_headers(
        VECTOR_SECRET, msg_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY
    )
    assert expected == actual


def test_signed_headers_need_a_secret() -> None:
    """An empty list of secrets is refused rather than sending an unsigned webhook."""
    with pytest.raises(InvalidInput, match="at least one signing secret"):
        signed_headers([], msg_id="msg-1", timestamp=1000, body=b"{}")


def test_signatures_of_other_schemes_are_skipped() -> None:
    """A v1a entry is ignored: alone it fails, beside a valid v1 the message verifies."""
    asymmetric = "v1a," + base64.b64encode(bytes(64)).decode()
    alone = {**vector_headers(), "webhook-signature": asymmetric}
    with pytest.raises(SignatureInvalid):
        verify(VECTOR_SECRET, headers=alone, body=VECTOR_BODY, now=VECTOR_TIMESTAMP)
    both = {**vector_headers(), "webhook-signature": f"{asymmetric} {VECTOR_SIGNATURE}"}
    verify(VECTOR_SECRET, headers=both, body=VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_a_new_secret_holds_32_random_bytes() -> None:
    """new_secret gives whsec_ and 32 bytes of base64, different every time."""
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_an_id_with_a_full_stop_is_not_signed() -> None:
    """The signed content is delimited by full stops, so an id may not hold one."""
    with pytest.raises(InvalidInput, match=r"without a '\.'"):
        sign(VECTOR_SECRET, msg_id="msg.1", timestamp=VECTOR_TIMESTAMP, body=b"{}")


# CloudEvents


def test_a_cloud_event_has_the_structured_mode_shape() -> None:
    """specversion 1.0, the required attributes, JSON data and the time in UTC with a Z."""
    amsterdam = timezone(timedelta(hours=1))
    expected = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "/phasedcare/vt-ijsselland",
        "type": "nl.phasedcare.handover.proposed",
        "subject": "c-1",
        "time": "2026-03-02T09:00:00Z",
        "datacontenttype": "application/json",
        "data": {"handover_id": "h-1"},
    }
    actual = cloud_event(
        event_id="evt-1",
        event_type="nl.phasedcare.handover.proposed",
        source="/phasedcare/vt-ijsselland",
        subject="c-1",
        time=datetime(2026, 3, 2, 10, 0, tzinfo=amsterdam),
        data={"handover_id": "h-1"},
    )
    assert expected == actual


def test_a_cloud_event_needs_a_time_with_a_timezone() -> None:
    """A naive time is refused: RFC 3339 needs an offset."""
    with pytest.raises(InvalidInput, match="timezone"):
        cloud_event(
            event_id="e",
            event_type="t",
            source="/s",
            subject="c",
            time=datetime(2026, 3, 2, 9, 0),  # noqa: DTZ001  # naive on purpose
            data={},
        )


def test_a_cloud_event_needs_an_id() -> None:
    """An empty event id is refused and named."""
    with pytest.raises(InvalidInput, match="non-empty event_id"):
        cloud_event(event_id="", event_type="t", source="/s", subject="c", time=AT, data={})


def test_an_event_is_encoded_compactly_with_sorted_keys_in_utf8() -> None:
    """No spaces, keys sorted at every level, non-ASCII kept as UTF-8."""
    expected = '{"a":{"y":1,"z":"ë"},"b":[1,2]}'.encode()
    assert expected == encode_event({"b": [1, 2], "a": {"z": "ë", "y": 1}})


@pytest.mark.parametrize("value", [float("nan"), object()], ids=["nan", "object"])
def test_an_event_json_cannot_hold_is_refused_without_the_value(value: object) -> None:
    """NaN and arbitrary objects are refused; the message does not repeat the data."""
    with pytest.raises(InvalidInput, match="cannot be encoded as JSON") as raised:
        encode_event({"data": {"name": CANARY, "value": value}})
    assert CANARY not in str(raised.value)


# Retry delays


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 7])
def test_the_delay_doubles_from_five_seconds_with_jitter_in_the_upper_half(attempt: int) -> None:
    """After n attempts the delay lies between half and all of 5 s * 2^(n-1)."""
    rng = random.Random(attempt)
    step = 5 * 2 ** (attempt - 1)
    delays = [next_attempt_delay(attempt, rng=rng).total_seconds() for _ in range(500)]
    assert all(step / 2 <= d <= step for d in delays)
    assert max(delays) - min(delays) > step / 4  # the jitter actually spreads


def test_the_delay_is_capped_at_an_hour() -> None:
    """However many attempts were made, the delay stays between 30 and 60 minutes."""
    rng = random.Random(7)
    delays = [next_attempt_delay(n, rng=rng) for n in (11, 12, 50, 1000) for _ in range(100)]
    assert all(timedelta(minutes=30) <= d <= timedelta(hours=1) for d in delays)


def test_a_longer_retry_after_wins_and_a_shorter_one_does_not() -> None:
    """Retry-After raises the delay to what the receiver asked, never lowers it."""
    rng = random.Random(1)
    assert next_attempt_delay(1, rng=rng, retry_after_seconds=120) == timedelta(seconds=120)
    assert next_attempt_delay(3, rng=rng, retry_after_seconds=1) >= timedelta(seconds=10)


def test_a_retry_after_is_capped_at_an_hour() -> None:
    """A receiver asking for a day is retried after an hour."""
    actual = next_attempt_delay(1, rng=random.Random(1), retry_after_seconds=86_400)
    assert timedelta(hours=1) == actual


def test_the_delay_needs_an_attempt_made() -> None:
    """attempt counts attempts already made, so 0 is refused."""
    with pytest.raises(InvalidInput, match="at least 1"):
        next_attempt_delay(0)


def test_a_delivery_gets_eight_attempts() -> None:
    """MAX_ATTEMPTS spreads retries over half a day to a day, the first attempt included."""
    steps = [next_attempt_delay(n, rng=random.Random(n)) for n in range(1, MAX_ATTEMPTS)]
    total_hours = sum(s.total_seconds() for s in steps) / 3600
    assert 11 < total_hours < 24


# URLs


def _targets(*, allow_loopback: bool) -> WebhookTargets:
    return WebhookTargets(allow_loopback=allow_loopback, resolver=lambda host, _: PUBLIC[host])


@pytest.mark.parametrize(
    ("url", "allow_loopback"),
    [
        ("https://hooks.example.org/phasedcare?token=x", False),
        ("https://hooks.example.org:8443/phasedcare", True),
        ("http://127.0.0.1:8080/hooks", True),
        ("http://[::1]:8080/hooks", True),
        ("http://localhost/hooks", True),
    ],
)
def test_a_usable_url_keeps_its_text(url: str, allow_loopback: bool) -> None:
    """HTTPS to a public host, plain HTTP only to loopback when that is allowed."""
    assert url == _targets(allow_loopback=allow_loopback).check(url).url


@pytest.mark.parametrize(
    ("url", "allow_loopback", "words"),
    [
        ("http://hooks.example.org/phasedcare", True, "must use https"),
        ("ftp://hooks.example.org/phasedcare", False, "must use https"),
        ("http://127.0.0.1:8080/hooks", False, "must use https"),
        ("https://127.0.0.1:8443/hooks", False, "is a loopback address"),
        ("https://localhost/hooks", False, "resolves to a loopback address"),
        ("https://user:pw@hooks.example.org/", False, "user name or password"),
        ("https://hooks.example.org/x#part", False, "fragment"),
        ("https:///hooks", False, "needs a host"),
        ("https://hooks.example.org:99999/", False, "port"),
        ("https://hooks.example.org/a b", False, "whitespace"),
        ("not a url", False, "whitespace"),
    ],
)
def test_an_unusable_url_is_refused_with_a_reason(
    url: str, allow_loopback: bool, words: str
) -> None:
    """Each refusal is InvalidInput on the url field, saying what is wrong."""
    with pytest.raises(TargetRefused, match=words) as raised:
        _targets(allow_loopback=allow_loopback).check(url)
    assert raised.value.field == "url"
    assert isinstance(raised.value, InvalidInput)


# Delivery against a real receiver


def test_a_delivery_arrives_signed_and_byte_exact(
    sender: WebhookSender, rx: WebhookReceiver, secret: str
) -> None:
    """The receiver verifies the POST and gets the encoded event with the CloudEvents type."""
    attempt = deliver(sender, rx, secret)
    [received] = rx.wait_for(1)
    assert (attempt.ok, attempt.status, attempt.error) == (True, 200, "")
    assert received.body == encode_event(an_event())
    assert received.event == an_event()
    assert received.headers["content-type"] == "application/cloudevents+json"
    assert rx.rejected == []


def test_a_server_error_is_a_failed_attempt_with_its_status(
    sender: WebhookSender, rx: WebhookReceiver, secret: str
) -> None:
    """A 500 is not ok, names the status in our words, and the next attempt gets through."""
    rx.fail_next(1, status=500)
    failed = deliver(sender, rx, secret)
    retried = deliver(sender, rx, secret)
    assert (failed.ok, failed.status, failed.gone) == (False, 500, False)
    assert failed.error == "HTTP 500 Internal Server Error"
    assert retried.ok
    assert rx.unique_ids() == ["msg-1"]


def test_a_refused_connection_is_a_failed_attempt_without_status(sender: WebhookSender) -> None:
    """Nobody listening gives status None and the exception's class name only."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attempt = sender.send(
        target=LOOPBACK.check(f"http://127.0.0.1:{port}/hooks?token=abc"),
        secrets=[new_secret()],
        msg_id="msg-1",
        event=an_event(),
        timestamp=int(time.time()),
    )
    assert (attempt.ok, attempt.status, attempt.error) == (False, None, "ConnectError")


def test_a_timeout_is_a_failed_attempt_without_status(rx: WebhookReceiver, secret: str) -> None:
    """A receiver that does not answer in time gives status None and ReadTimeout."""
    rx.stall_next(1, seconds=3.0)
    with WebhookSender(timeout_seconds=0.2) as sender:
        attempt = deliver(sender, rx, secret)
    assert (attempt.ok, attempt.status, attempt.error) == (False, None, "ReadTimeout")


def test_gone_asks_for_the_subscription_to_be_disabled(
    sender: WebhookSender, rx: WebhookReceiver, secret: str
) -> None:
    """A 410 is not ok and is flagged gone."""
    rx.fail_next(1, status=410)
    attempt = deliver(sender, rx, secret)
    assert (attempt.ok, attempt.status, attempt.gone) == (False, 410, True)


@pytest.mark.parametrize("status", [429, 503])
def test_a_numeric_retry_after_is_reported(
    sender: WebhookSender, rx: WebhookReceiver, secret: str, status: int
) -> None:
    """429 and 503 pass their Retry-After seconds on for scheduling."""
    rx.fail_next(1, status=status, headers={"Retry-After": "120"})
    attempt = deliver(sender, rx, secret)
    assert (attempt.ok, attempt.status, attempt.retry_after_seconds) == (False, status, 120.0)


@pytest.mark.parametrize(
    ("status", "value"),
    [(503, "Wed, 21 Oct 2026 07:28:00 GMT"), (503, "-5"), (503, "1e9"), (500, "120")],
)
def test_other_retry_afters_are_ignored(
    sender: WebhookSender, rx: WebhookReceiver, secret: str, status: int, value: str
) -> None:
    """Dates, signs and exponents are not delay-seconds; a 500's Retry-After is not honoured."""
    rx.fail_next(1, status=status, headers={"Retry-After": value})
    assert deliver(sender, rx, secret).retry_after_seconds is None


def test_a_redirect_is_not_followed(
    sender: WebhookSender, rx: WebhookReceiver, secret: str
) -> None:
    """A 307 to the receiver's own URL is a failure, and nothing arrives there."""
    rx.fail_next(1, status=307, headers={"Location": rx.url})
    attempt = deliver(sender, rx, secret)
    assert (attempt.ok, attempt.status) == (False, 307)
    assert "redirects are not followed" in attempt.error
    assert rx.received == []


@pytest.mark.parametrize("status", [400, 410, 429, 500, 503])
def test_the_error_never_holds_the_response_body(
    sender: WebhookSender, rx: WebhookReceiver, secret: str, status: int
) -> None:
    """A receiver echoing data in its answer does not get it into the attempt."""
    echo = f'{{"error": "unknown person {CANARY}"}}'.encode()
    rx.fail_next(1, status=status, headers={"Retry-After": "1"}, body=echo)
    attempt = deliver(sender, rx, secret)
    assert not attempt.ok
    assert CANARY not in repr(attempt)


def test_a_wrong_secret_is_rejected_by_the_receiver(
    sender: WebhookSender, rx: WebhookReceiver
) -> None:
    """The receiver answers 401 and records why; no event is accepted."""
    attempt = sender.send(
        target=LOOPBACK.check(rx.url),
        secrets=[new_secret()],
        msg_id="msg-1",
        event=an_event(),
        timestamp=int(time.time()),
    )
    assert (attempt.ok, attempt.status) == (False, 401)
    assert [r.reason for r in rx.rejected] == [
        "no v1 signature in webhook-signature matches the secret"
    ]
    assert rx.received == []


def test_a_rotating_sender_reaches_a_receiver_holding_the_new_secret(
    sender: WebhookSender, rx: WebhookReceiver, secret: str
) -> None:
    """Signed with the old and the new secret, the delivery verifies against the new one."""
    attempt = sender.send(
        target=LOOPBACK.check(rx.url),
        secrets=[new_secret(), secret],
        msg_id="msg-1",
        event=an_event(),
        timestamp=int(time.time()),
    )
    assert attempt.ok


def test_a_stale_delivery_is_rejected_by_the_receiver(
    sender: WebhookSender, rx: WebhookReceiver, secret: str
) -> None:
    """A message signed ten minutes ago does not verify now (a replay)."""
    attempt = sender.send(
        target=LOOPBACK.check(rx.url),
        secrets=[secret],
        msg_id="msg-1",
        event=an_event(),
        timestamp=int(time.time()) - 600,
    )
    assert attempt.status == 401
    assert "s old" in rx.rejected[0].reason


def test_the_receiver_dedupes_a_redelivered_id(
    sender: WebhookSender, rx: WebhookReceiver, secret: str
) -> None:
    """The same webhook-id twice is answered 200 both times but is one event and a duplicate."""
    first = deliver(sender, rx, secret, msg_id="msg-1")
    again = deliver(sender, rx, secret, msg_id="msg-1")
    other = deliver(sender, rx, secret, msg_id="msg-2")
    assert (first.ok, again.ok, other.ok) == (True, True, True)
    assert [r.msg_id for r in rx.wait_for(2)] == ["msg-1", "msg-2"]
    assert rx.unique_ids() == ["msg-1", "msg-2"]
    assert rx.duplicates == 1


def test_the_receiver_calls_back_once_per_new_event(sender: WebhookSender, secret: str) -> None:
    """on_event sees each unique event once, redeliveries not again."""
    seen: list[dict[str, Any]] = []
    with WebhookReceiver(secret=secret, on_event=seen.append) as rx:
        deliver(sender, rx, secret, msg_id="msg-1")
        deliver(sender, rx, secret, msg_id="msg-1")
        rx.wait_for(1)
    assert seen == [an_event()]


def test_waiting_for_events_that_never_come_says_what_arrived(
    sender: WebhookSender, rx: WebhookReceiver, secret: str
) -> None:
    """wait_for fails with the ids that did arrive."""
    deliver(sender, rx, secret, msg_id="msg-1")
    with pytest.raises(AssertionError, match=r"expected 2 unique webhook\(s\).*\['msg-1'\]"):
        rx.wait_for(2, timeout=0.05)


def test_a_client_passed_in_stays_open_for_its_owner() -> None:
    """close() closes the sender's own client, never one it was given."""
    with httpx.Client() as client:
        WebhookSender(client=client).close()
        assert not client.is_closed
