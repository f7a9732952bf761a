"""The outbox and its drain: signed CloudEvents reach a real loopback receiver exactly once,
failures are retried with backoff, and no personal data ever leaves in a body."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from phasedcare.domain.actors import Actor
from phasedcare.domain.policy import default_policy
from phasedcare.errors import InvalidInput, NotFound
from phasedcare.ledger.keys import InMemoryKeyProvider
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.service.subscriptions import WebhookSubscriptions
from phasedcare.service.webhooks import MAX_ATTEMPTS, WebhookSender
from phasedcare.store import InMemoryEventStore
from phasedcare.testing import ManualClock, actor_of
from receiver import WebhookReceiver
from support import CANARY_NAMES, Journey, admin_of, handover


@pytest.fixture
def jobs(engine: Engine, clock: ManualClock) -> Iterator[Jobs]:
    sweeps = Jobs(engine=engine, sender=WebhookSender(timeout_seconds=2), clock=clock)
    yield sweeps
    sweeps.close()


@pytest.fixture
def rx(engine: Engine, wijkteam: Actor) -> Iterator[WebhookReceiver]:
    """A loopback receiver the wijkteam subscribed with phasedcare's secret."""
    with WebhookReceiver() as receiver:
        _, receiver.secret = engine.webhooks.subscribe(actor=admin_of(wijkteam), url=receiver.url)
        yield receiver


def _proposed(journey: Journey, engine: Engine, vt: Actor) -> None:
    journey.opened().with_members().with_conditions()
    engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=vt)


def test_a_proposal_arrives_signed_once_with_ids_and_a_link(
    journey: Journey, engine: Engine, vt: Actor, jobs: Jobs, rx: WebhookReceiver
) -> None:
    """Subscribe, propose, drain: one valid Standard Webhooks delivery of a CloudEvent."""
    _proposed(journey, engine, vt)
    report = jobs.drain_outbox()
    assert (report.delivered, report.retrying, report.pending) == (1, 0, 0)
    [received] = rx.wait_for(1)
    event = received.event
    assert (event["type"], event["subject"]) == ("nl.phasedcare.handover.proposed", journey.case_id)
    assert event["data"]["handover_id"] == "h1"
    assert event["data"]["link"].endswith(f"/cases/{journey.case_id}")
    assert received.msg_id == event["id"]
    assert jobs.drain_outbox().delivered == 0
    [delivery] = engine.store.deliveries(case_id=journey.case_id)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
    assert rx.rejected == []


def test_a_failing_receiver_gets_the_same_event_later_and_sees_it_once(
    journey: Journey,
    engine: Engine,
    vt: Actor,
    clock: ManualClock,
    jobs: Jobs,
    rx: WebhookReceiver,
) -> None:
    """Two 500s, then success: retried with backoff under the same id; nothing duplicated."""
    rx.fail_next(2)
    _proposed(journey, engine, vt)
    assert jobs.drain_outbox().retrying == 1
    assert jobs.drain_outbox().delivered == 0  # not due yet: backoff
    for _ in range(2):
        clock.advance(hours=1)
        jobs.drain_outbox()
    [received] = rx.wait_for(1)
    assert (rx.failed, rx.duplicates, len(rx.unique_ids())) == (2, 0, 1)
    [delivery] = engine.store.deliveries(case_id=journey.case_id)
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert received.msg_id == delivery.message_id


def test_a_receiver_that_is_down_loses_nothing(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor, clock: ManualClock, jobs: Jobs
) -> None:
    """Connection refused: the delivery waits; when the receiver is back it arrives once."""
    with WebhookReceiver() as rx:
        url = rx.url
    sub, _ = engine.webhooks.subscribe(actor=admin_of(wijkteam), url=url)
    _proposed(journey, engine, vt)
    report = jobs.drain_outbox()
    assert (report.delivered, report.retrying) == (0, 1)
    [delivery] = engine.store.deliveries(case_id=journey.case_id)
    assert (delivery.last_status, delivery.last_error) == (None, "ConnectError")
    engine.webhooks.unsubscribe(actor=admin_of(wijkteam), subscription_id=sub.subscription_id)
    assert engine.store.deliveries(case_id=journey.case_id)[0].status == "dead"


def test_gone_ends_the_subscription_and_attempts_stop_at_the_maximum(
    journey: Journey,
    engine: Engine,
    vt: Actor,
    clock: ManualClock,
    jobs: Jobs,
    rx: WebhookReceiver,
) -> None:
    """410 Gone deactivates the subscription; a receiver failing forever is given up."""
    rx.fail_next(1, status=410)
    _proposed(journey, engine, vt)
    assert jobs.drain_outbox().dead == 1
    assert [s.active for s in engine.store.subscriptions()] == [False]


def test_retries_end_dead_after_max_attempts(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock, jobs: Jobs, rx: WebhookReceiver
) -> None:
    """After MAX_ATTEMPTS failures the delivery is dead and visible as such."""
    rx.fail_next(MAX_ATTEMPTS + 5)
    _proposed(journey, engine, vt)
    for _ in range(MAX_ATTEMPTS):
        jobs.drain_outbox()
        clock.advance(hours=2)
    [delivery] = engine.store.deliveries(case_id=journey.case_id)
    assert (delivery.status, delivery.attempts) == ("dead", MAX_ATTEMPTS)
    assert rx.unique_ids() == []


def test_only_the_recipients_subscriptions_get_a_message(
    journey: Journey, engine: Engine, vt: Actor, jobs: Jobs, rx: WebhookReceiver
) -> None:
    """A handover to wijkteam-zwolle is not delivered to wijkteam-deventer's endpoint."""
    with WebhookReceiver() as other:
        _, other.secret = engine.webhooks.subscribe(
            actor=admin_of(actor_of("wijkteam-deventer")), url=other.url
        )
        _proposed(journey, engine, vt)
        jobs.drain_outbox()
        rx.wait_for(1)
        assert other.received == []


def test_no_name_or_free_text_reaches_a_webhook_body(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor, clock: ManualClock, jobs: Jobs
) -> None:
    """Canary: names and free text typed into every command never appear in any body sent."""
    with WebhookReceiver() as to_vt, WebhookReceiver() as to_wt:
        _, to_vt.secret = engine.webhooks.subscribe(actor=admin_of(vt), url=to_vt.url)
        _, to_wt.secret = engine.webhooks.subscribe(actor=admin_of(wijkteam), url=to_wt.url)
        case_id = engine.open_case(actor=vt, via="melding", summary=CANARY_NAMES[0]).case_id
        for name in CANARY_NAMES:
            engine.record_member(case_id, actor=vt, role="kind", name=name)
        engine.add_safety_condition(
            case_id,
            actor=vt,
            statement=CANARY_NAMES[1],
            owner="wijkteam-zwolle",
            check_every_days=7,
        )
        engine.handle(
            handover(
                case_id,
                "wijkteam-zwolle",
                monitoring_agreement=CANARY_NAMES[2],
                risk_summary=CANARY_NAMES[0],
                note=CANARY_NAMES[1],
            ),
            actor=vt,
        )
        engine.reject_handover(case_id, actor=wijkteam, handover_id="h1", reason=CANARY_NAMES[2])
        engine.record_melding(case_id, actor=vt, summary=CANARY_NAMES[0])
        clock.advance(days=30)
        jobs.sweep_deadlines()
        jobs.drain_outbox()
        bodies = [r.body for r in to_vt.received + to_wt.received]
    assert len(bodies) >= 4
    for name in CANARY_NAMES:
        assert not any(name.encode() in body for body in bodies)
        assert not any(name.encode() in m.body for m in engine.store.messages())


def test_subscriptions_are_validated_owned_and_their_secret_is_never_stored_in_clear(
    engine: Engine, wijkteam: Actor, clock: ManualClock
) -> None:
    """https only (loopback allowed only when configured); secrets are wrapped by a KEK."""
    strict = WebhookSubscriptions(
        store=InMemoryEventStore(),
        keys=InMemoryKeyProvider(),
        policy=default_policy(),
        clock=clock,
        resolver=lambda host, port: ["93.184.215.14"],
    )
    admin = admin_of(wijkteam)
    with pytest.raises(InvalidInput, match="https"):
        strict.subscribe(actor=admin, url="http://example.org/hooks")
    with pytest.raises(InvalidInput):
        strict.subscribe(actor=admin, url="http://127.0.0.1:8080/hooks")
    sub, secret = strict.subscribe(actor=admin, url="https://hooks.example.org/in")
    assert secret.startswith("whsec_")
    assert secret.encode() not in sub.wrapped_secret
    assert strict.secrets(sub) == [secret]
    with pytest.raises(NotFound):
        strict.unsubscribe(
            actor=admin_of(actor_of("wijkteam-deventer")), subscription_id=sub.subscription_id
        )


def test_the_lease_keeps_two_drainers_from_sending_one_delivery_twice(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock, rx: WebhookReceiver
) -> None:
    """A claimed delivery is leased: a second drainer in the lease window gets nothing."""
    _proposed(journey, engine, vt)
    now = clock()
    first = engine.store.claim_due(now=now, lease_until=now + timedelta(minutes=2), limit=10)
    second = engine.store.claim_due(now=now, lease_until=now + timedelta(minutes=2), limit=10)
    assert (len(first), len(second)) == (1, 0)
    later = now + timedelta(minutes=3)
    assert len(engine.store.claim_due(now=later, lease_until=later, limit=10)) == 1


def test_a_rotated_secret_signs_alongside_the_old_one_for_a_day(
    journey: Journey,
    engine: Engine,
    vt: Actor,
    wijkteam: Actor,
    clock: ManualClock,
    jobs: Jobs,
    rx: WebhookReceiver,
) -> None:
    """Rotation: deliveries verify with the old and the new secret during the grace period,
    and only with the new one after it."""
    old = rx.secret
    [sub] = engine.webhooks.list(actor=wijkteam)
    rotated, new = engine.webhooks.rotate(
        actor=admin_of(wijkteam), subscription_id=sub.subscription_id
    )
    assert new != old
    assert engine.webhooks.secrets(rotated) == [new, old]
    _proposed(journey, engine, vt)
    jobs.drain_outbox()
    [first] = rx.wait_for(1)
    assert len(first.headers["webhook-signature"].split()) == 2
    clock.advance(hours=25)
    assert engine.webhooks.secrets(engine.webhooks.list(actor=wijkteam)[0]) == [new]
    rx.secret = new
    engine.withdraw_handover(journey.case_id, actor=vt, handover_id="h1")
    jobs.drain_outbox()
    assert len(rx.wait_for(2)) == 2
    assert rx.rejected == []
