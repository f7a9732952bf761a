"""Access is judged now, and every refusal is in the access log (review M7, M8, L4, L9).

- A replay shows the past only to whoever may read the case today: a revoked share or a
  regie handed away ends the access to the case's past too; a moment before the case was
  opened is refused as such, not answered with an empty state.
- A handover withdrawn, rejected or expired stops showing its payload to its receiver; its
  sender, Veilig Thuis and auditors keep reading it.
- An auditor audits the cases its organisation has a part in; the policy's
  ``region_auditors`` (the inspectie) and Veilig Thuis's auditors audit the whole region.
- A case that does not exist and one the actor's organisation has no part in answer alike,
  over HTTP and in Python; every probe, missing or refused, is in the access log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi.testclient import TestClient
from jwt.algorithms import OKPAlgorithm

from phasedcare.api import create_app
from phasedcare.domain import commands as cmd
from phasedcare.domain import events as ev
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import default_policy
from phasedcare.errors import InvalidInput, NotAuthorised, NotFound
from phasedcare.service.access import CASELOAD, access_stream
from phasedcare.service.engine import Engine
from phasedcare.service.oidc import OidcVerifier
from phasedcare.service.views import AccessView
from phasedcare.testing import ManualClock, actor_of
from support import Journey, handover

POLICE = actor_of("politie-ijsselland", user="u-pol-01")
DEVENTER = actor_of("wijkteam-deventer", user="u-wd-01")
INSPECTIE = actor_of("igj", user="u-igj-01", role=Role.auditor)
DEVENTER_AUDITOR = actor_of("wijkteam-deventer", user="u-aud-02", role=Role.auditor)
SYSTEM = actor_of("vt-ijsselland", user="sys", role=Role.system)
MISSING = "c-0000000000000000"
HIDDEN = "does not exist or you may not read it"
RISK = "risico: vader dreigt (test)"


def _entries(engine: Engine, case_id: str) -> list[tuple[str, str, str, str]]:
    """(actor, query, outcome, detail) of a case's access log, as an auditor reads it."""
    auditor = actor_of("vt-ijsselland", user="u-audit-01", role=Role.auditor)
    return [_entry(e) for e in engine.access_history(case_id, actor=auditor)]


def _caseload(engine: Engine) -> list[tuple[str, str, str, str]]:
    """(actor, query, outcome, detail) of the caseload's access log."""
    return [_entry(e) for e in engine._access.entries(CASELOAD)]  # no public reader for it


def _entry(entry: AccessView) -> tuple[str, str, str, str]:
    return (entry.actor, entry.query, entry.outcome, entry.detail)


def _shared_then_revoked(journey: Journey, engine: Engine, vt: Actor) -> int:
    """A case shared with the police and revoked; the sequence at which the share was active."""
    journey.opened().with_members()
    granted = engine.grant_share(
        journey.case_id,
        actor=vt,
        to_organisation=POLICE.organisation,
        legal_basis="art. 5.2.6 Wmo 2015",
        expires_on=journey.clock.today + timedelta(days=30),
    )
    assert engine.state_at(journey.case_id, actor=POLICE, sequence=granted.sequence).shares
    engine.revoke_share(journey.case_id, actor=vt, share_id="s1")
    return granted.sequence


# -- M7: a replay is judged on the case as it stands now -------------------------------------


def test_a_revoked_share_reads_no_replay_of_the_time_it_was_active(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """After revocation the police is refused the replay at the share's own sequence and
    moment, with the reason, and both refusals are logged as denied."""
    sequence = _shared_then_revoked(journey, engine, vt)
    moment = journey.clock.now
    with pytest.raises(NotAuthorised, match="share s1 was revoked"):
        engine.state_at(journey.case_id, actor=POLICE, sequence=sequence)
    with pytest.raises(NotAuthorised, match="share s1 was revoked"):
        engine.state_at(journey.case_id, actor=POLICE, at=moment)
    replays = [e for e in _entries(engine, journey.case_id) if e[:2] == (str(POLICE), "replay")]
    assert replays == [
        (str(POLICE), "replay", "allowed", ""),
        (str(POLICE), "replay", "denied", "NotAuthorised"),
        (str(POLICE), "replay", "denied", "NotAuthorised"),
    ]


def test_an_organisation_that_handed_regie_away_replays_nothing(
    journey: Journey, engine: Engine, wijkteam: Actor
) -> None:
    """Zwolle held regie, handed it to Deventer, and may no longer replay its own time."""
    journey.in_directe_veiligheid().handed_over()
    held = engine.show(journey.case_id, actor=wijkteam).sequence
    proposed = engine.handle(handover(journey.case_id, DEVENTER.organisation), actor=wijkteam)
    engine.handle(
        cmd.AcceptHandover(
            case_id=journey.case_id, handover_id=str(proposed.created_id), casusregisseur="u-wd"
        ),
        actor=DEVENTER,
    )
    with pytest.raises(NotAuthorised, match="holds no regie, handover or share"):
        engine.state_at(journey.case_id, actor=wijkteam, sequence=held)
    assert engine.state_at(journey.case_id, actor=DEVENTER, sequence=held).regie.organisation == (
        wijkteam.organisation
    )


def test_a_replay_shows_the_past_to_whoever_may_read_today(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Veilig Thuis replays the first record: the case as it was opened, not as it is now."""
    journey.in_directe_veiligheid()
    first = engine.state_at(journey.case_id, actor=vt, sequence=1)
    assert (first.sequence, first.phase, first.members) == (1, "aanmelding", {})
    assert engine.show(journey.case_id, actor=vt).phase == "directe_veiligheid"


def test_a_replay_before_the_case_was_opened_says_so(
    journey: Journey, engine: Engine, vt: Actor, clock: ManualClock
) -> None:
    """A moment before the case existed is bad input naming the moment, not an empty state."""
    journey.opened()
    before = clock.now - timedelta(days=1)
    with pytest.raises(InvalidInput, match="did not exist yet at 2026-03-01T09:00:00") as caught:
        engine.state_at(journey.case_id, actor=vt, at=before)
    assert caught.value.field == "at"
    with pytest.raises(InvalidInput, match="did not exist yet at sequence 0"):
        engine.state_at(journey.case_id, actor=vt, sequence=0)


# -- M8: a closed handover's payload is no longer its receiver's ------------------------------


def _withdrawn(engine: Engine, journey: Journey, vt: Actor) -> None:
    engine.handle(
        cmd.WithdrawHandover(case_id=journey.case_id, handover_id="h1", reason="wrong team"),
        actor=vt,
    )


def _rejected(engine: Engine, journey: Journey, vt: Actor) -> None:
    engine.handle(
        cmd.RejectHandover(case_id=journey.case_id, handover_id="h1", reason="not ours"),
        actor=DEVENTER,
    )


def _expired(engine: Engine, journey: Journey, vt: Actor) -> None:
    journey.clock.advance(days=10)
    engine.handle(cmd.ExpireHandover(case_id=journey.case_id, handover_id="h1"), actor=SYSTEM)


@pytest.mark.parametrize(
    ("status", "close"),
    [("withdrawn", _withdrawn), ("rejected", _rejected), ("expired", _expired)],
)
def test_a_closed_handover_shows_its_receiver_no_payload(
    journey: Journey, engine: Engine, vt: Actor, auditor: Actor, status: str, close: Any
) -> None:
    """Withdrawn, rejected or expired (and so escalated): the receiver is refused the payload
    and sees only the status in its handover list; sender, Veilig Thuis and auditors read on."""
    journey.opened().with_conditions()
    engine.handle(handover(journey.case_id, DEVENTER.organisation, risk_summary=RISK), actor=vt)
    assert engine.handover(journey.case_id, "h1", actor=DEVENTER).risk_summary == RISK
    close(engine, journey, vt)
    with pytest.raises(NotAuthorised, match=f"handover h1 was {status}: its receiver no longer"):
        engine.handover(journey.case_id, "h1", actor=DEVENTER)
    listed = "escalated" if status == "expired" else status  # an expiry escalates at once
    assert [(r.handover_id, r.status) for r in engine.handovers(actor=DEVENTER)] == [("h1", listed)]
    for reader in (vt, auditor, INSPECTIE):
        assert engine.handover(journey.case_id, "h1", actor=reader).risk_summary == RISK
    refusals = [e for e in _entries(engine, journey.case_id) if e[0] == str(DEVENTER)]
    assert refusals[-1] == (str(DEVENTER), "handover", "denied", "NotAuthorised")


def test_an_accepted_handover_stays_readable_by_its_receiver(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor
) -> None:
    """The receiver that accepted holds regie: the payload it took over stays its own."""
    journey.opened().with_conditions().handed_over()
    assert engine.handover(journey.case_id, "h1", actor=wijkteam).status == "accepted"


# -- L9: auditors audit their own organisation's cases, the inspectie the region's -------------


def test_the_default_policy_names_the_inspectie_as_region_auditor() -> None:
    """The shipped policy lists the inspectie (igj), one of its organisations."""
    policy = default_policy()
    assert policy.region_auditors == ["igj"]
    assert policy.organisation("igj").kind == "partner"


def test_an_auditor_reads_only_the_cases_its_organisation_has_a_part_in(
    journey: Journey, engine: Engine, vt: Actor, auditor: Actor
) -> None:
    """Deventer's auditor is told nothing of a case Deventer has no part in, and reads it once
    Deventer receives a handover; the inspectie and Veilig Thuis's auditor read it all along."""
    journey.opened().with_members().with_conditions()
    with pytest.raises(NotFound, match=HIDDEN):
        engine.show(journey.case_id, actor=DEVENTER_AUDITOR)
    for reader in (auditor, INSPECTIE):
        assert len(engine.show(journey.case_id, actor=reader).members) == 3
    engine.handle(handover(journey.case_id, DEVENTER.organisation), actor=vt)
    assert len(engine.show(journey.case_id, actor=DEVENTER_AUDITOR).members) == 3
    assert [e[2:] for e in _entries(engine, journey.case_id) if e[0] == str(DEVENTER_AUDITOR)] == [
        ("denied", "NotAuthorised"),
        ("allowed", ""),
    ]


def test_an_auditor_not_of_the_region_lists_only_its_organisations_caseload(
    journey: Journey, engine: Engine
) -> None:
    """The caseload of Deventer's auditor is Deventer's (none here); the inspectie sees all."""
    journey.opened()
    assert engine.list_cases(actor=DEVENTER_AUDITOR) == []
    assert [row.case_id for row in engine.list_cases(actor=INSPECTIE)] == [journey.case_id]


def test_only_auditors_of_the_whole_region_export_the_ledger(
    journey: Journey, engine: Engine, auditor: Actor
) -> None:
    """The sealed ledger names every case: the inspectie and Veilig Thuis's auditor export it,
    Deventer's auditor is refused (and logged); verifying stays open to every auditor."""
    journey.opened()
    with pytest.raises(NotAuthorised, match="only auditors of the whole region export"):
        engine.export_ledger(actor=DEVENTER_AUDITOR)
    for exporter in (auditor, INSPECTIE):
        assert engine.export_ledger(actor=exporter)["records"]
    assert engine.verify_ledger(actor=DEVENTER_AUDITOR).intact
    exports = [e for e in _caseload(engine) if e[1] == "export_ledger"]
    assert [e[0] for e in exports if e[2] == "denied"] == [str(DEVENTER_AUDITOR)]


def test_break_glass_review_tasks_show_an_auditor_only_its_cases(
    journey: Journey, engine: Engine, auditor: Actor
) -> None:
    """A break-glass by the police is a task for Veilig Thuis's auditor, not Deventer's."""
    journey.opened()
    engine.break_glass(journey.case_id, actor=POLICE, reason="acute danger reported tonight")
    assert [t.case_id for t in engine.review_tasks(actor=auditor)] == [journey.case_id]
    assert engine.review_tasks(actor=DEVENTER_AUDITOR) == []


# -- L4: missing and forbidden answer alike, and every probe is logged ------------------------

TOKENS = {"vt": actor_of("vt-ijsselland"), "wd": DEVENTER, "wd-audit": DEVENTER_AUDITOR}

READS = ("", "/history", "/allowed", "/replay?sequence=1", "/access", "/mda-criteria", "/bundle")
READS += ("/handovers/h1", "/handovers/h9")


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    """The HTTP API over the test's engine, a token per actor of ``TOKENS`` (only those are
    sent, so the lookup is the whole authenticator)."""
    with TestClient(create_app(engine, authenticate=TOKENS.__getitem__)) as c:
        yield c


def _get(client: TestClient, path: str, token: str) -> tuple[int, dict[str, Any]]:
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    body: dict[str, Any] = response.json()
    return response.status_code, body


def _without(body: dict[str, Any], case_id: str) -> dict[str, Any]:
    """A problem body with the case id it names taken out of its detail."""
    return {**body, "detail": body["detail"].replace(case_id, "<case>")}


@pytest.mark.parametrize("token", ["wd", "wd-audit"])
def test_a_case_of_another_organisation_answers_as_a_missing_one(
    journey: Journey, client: TestClient, token: str
) -> None:
    """Every case read and both handover ids: the same status and body, the id aside."""
    journey.opened().with_conditions()
    journey.engine.handle(handover(journey.case_id, "wijkteam-zwolle"), actor=journey.vt)
    for read in READS:
        hidden = _get(client, f"/cases/{journey.case_id}{read}", token)
        missing = _get(client, f"/cases/{MISSING}{read}", token)
        assert hidden[0] == missing[0] == 404, read
        assert _without(hidden[1], journey.case_id) == _without(missing[1], MISSING), read
        assert missing[1]["detail"] == f"case {MISSING} {HIDDEN}"


def test_missing_and_forbidden_answer_alike_in_python(
    journey: Journey, engine: Engine, wijkteam: Actor
) -> None:
    """The Python API raises the same NotFound for both, with the same message shape."""
    journey.opened()
    with pytest.raises(NotFound) as hidden:
        engine.history(journey.case_id, actor=wijkteam)
    with pytest.raises(NotFound) as missing:
        engine.history(MISSING, actor=wijkteam)
    assert hidden.value.message.replace(journey.case_id, "?") == missing.value.message.replace(
        MISSING, "?"
    )
    assert (hidden.value.kind, missing.value.kind) == ("case", "case")


def test_a_party_that_lost_its_access_is_told_why(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """The police knew the case (its share): its refusal names the share, not a missing case."""
    _shared_then_revoked(journey, engine, vt)
    with pytest.raises(NotAuthorised, match="share s1 was revoked"):
        engine.show(journey.case_id, actor=POLICE)


def test_every_probe_is_in_the_access_log(
    journey: Journey, engine: Engine, client: TestClient
) -> None:
    """A refused read is logged on the case, a read of a missing case on the caseload (the
    probed id is not written), from Python and HTTP alike."""
    journey.opened()
    with pytest.raises(NotFound):
        engine.show(MISSING, actor=DEVENTER)
    with pytest.raises(NotFound):
        engine.show(journey.case_id, actor=DEVENTER)
    _get(client, f"/cases/{MISSING}/history", "wd")
    _get(client, f"/cases/{journey.case_id}/handovers/h9", "wd")
    denied = [e for e in _entries(engine, journey.case_id) if e[0] == str(DEVENTER)]
    assert denied == [
        (str(DEVENTER), "show", "denied", "NotAuthorised"),
        (str(DEVENTER), "handover", "denied", "NotAuthorised"),
    ]
    probes = [e for e in _caseload(engine) if e[0] == str(DEVENTER)]
    assert probes == [
        (str(DEVENTER), "show", "denied", "NotFound"),
        (str(DEVENTER), "history", "denied", "NotFound"),
    ]
    assert not [e for e in engine._access.entries(CASELOAD) if MISSING in e.model_dump_json()]


# -- an authentic token of an actor the region does not know --------------------------------


def test_an_out_of_region_oidc_token_is_refused_and_logged_as_the_cli_refusal_is(
    journey: Journey, engine: Engine
) -> None:
    """A valid token of Veilig Thuis Haaglanden gets 401 over HTTP; its attempt is logged
    on the case it asked for, as denied, like the same actor's read from the CLI or Python
    (which is refused alike for a case that exists and one that does not)."""
    journey.opened()
    key = ed25519.Ed25519PrivateKey.generate()
    jwk = {**OKPAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "alg": "EdDSA"}
    verifier = OidcVerifier(
        issuer="https://login.example",
        audience="phasedcare",
        jwks={"keys": [jwk]},
        policy=engine.policy,
    )
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": "https://login.example",
        "aud": "phasedcare",
        "iat": now,
        "exp": now + 300,
        "sub": "u-vth-01",
        "phasedcare_org": "vt-haaglanden",
        "phasedcare_role": "professional",
    }
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "k1"})
    elders = actor_of("vt-haaglanden", user="u-vth-01")
    with TestClient(create_app(engine, authenticate=verifier.verify)) as client:
        answer = client.get(
            f"/cases/{journey.case_id}", headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 401
    with pytest.raises(NotAuthorised, match="vt-haaglanden is unknown in region ijsselland"):
        engine.show(journey.case_id, actor=elders)
    with pytest.raises(NotAuthorised, match="vt-haaglanden is unknown in region ijsselland"):
        engine.show(MISSING, actor=elders)
    assert (str(elders), "show", "denied", "NotAuthorised") in _caseload(engine)
    logged = [e for e in _entries(engine, journey.case_id) if e[0] == str(elders)]
    assert logged == [
        (str(elders), "show_case", "denied", "NotAuthorised"),
        (str(elders), "show", "denied", "NotAuthorised"),
    ]


# -- every door logs its refusals: webhooks and the witness endpoints (issue 12 audit, A3) ---

ZWOLLE = actor_of("wijkteam-zwolle", user="u-wt-07")
ZWOLLE_ADMIN = actor_of("wijkteam-zwolle", user="u-int-01", role=Role.integration_admin)
DOOR_TOKENS = {"wt": ZWOLLE, "int": ZWOLLE_ADMIN, "wd-audit": DEVENTER_AUDITOR, "aud": INSPECTIE}
INTERNAL_URL = "https://10.0.0.1/x"
OTHERS_SUBSCRIPTION = "/webhooks/subscriptions/sub_0123456789abcdef"
_DENIED, _GONE = "NotAuthorised", "NotFound"

DOOR_REFUSALS = [
    ("wt", "POST", "/webhooks/subscriptions", 403, "subscribe_webhook", _DENIED),
    ("int", "POST", "/webhooks/subscriptions", 422, "subscribe_webhook", "TargetRefused"),
    ("wd-audit", "GET", "/webhooks/subscriptions", 403, "list_webhooks", _DENIED),
    ("wd-audit", "GET", "/webhooks/deliveries", 403, "webhook_deliveries", _DENIED),
    ("wt", "POST", f"{OTHERS_SUBSCRIPTION}/rotate-secret", 403, "rotate_webhook_secret", _DENIED),
    ("int", "POST", f"{OTHERS_SUBSCRIPTION}/rotate-secret", 404, "rotate_webhook_secret", _GONE),
    ("wt", "DELETE", OTHERS_SUBSCRIPTION, 403, "unsubscribe_webhook", _DENIED),
    ("int", "DELETE", OTHERS_SUBSCRIPTION, 404, "unsubscribe_webhook", _GONE),
    ("wt", "GET", "/ledger/checkpoint", 403, "get_checkpoint", _DENIED),
    ("wt", "GET", "/ledger/consistency?from=1&to=2", 403, "get_consistency", _DENIED),
    ("wt", "GET", "/ledger/verifier-key", 403, "get_verifier_key", _DENIED),
]


@pytest.mark.parametrize(
    ("token", "method", "path", "status", "query", "detail"),
    DOOR_REFUSALS,
    ids=[f"{r[0]} {r[1]} {r[2]}" for r in DOOR_REFUSALS],
)
def test_a_refused_webhook_or_witness_request_is_in_the_access_log(
    engine: Engine, token: str, method: str, path: str, status: int, query: str, detail: str
) -> None:
    """Each refusal adds one entry to the caseload's access log: the actor, the door, denied
    (a read) or refused (a change), and the refusal's class; the URL typed is not in it."""
    with TestClient(create_app(engine, authenticate=DOOR_TOKENS.__getitem__)) as client:
        before = len(_caseload(engine))
        body = {"url": INTERNAL_URL} if path == "/webhooks/subscriptions" else None
        answer = client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == status, answer.text
    [(actor, logged_query, outcome, logged_detail)] = _caseload(engine)[before:]
    assert (actor, logged_query) == (str(DOOR_TOKENS[token]), query)
    assert (outcome, logged_detail) == ("denied" if method == "GET" else "refused", detail)
    assert not [e for e in engine._access.entries(CASELOAD) if "10.0.0.1" in e.model_dump_json()]


def test_a_witness_polling_the_ledger_still_adds_no_entry(engine: Engine) -> None:
    """An auditor's reads of the verifier key and the checkpoint are not logged (a witness
    polls every minute), so only refusals reach the log."""
    engine.open_case(actor=actor_of("vt-ijsselland"), via="melding")
    assert engine.auditor is not None
    engine.auditor.checkpoint()
    with TestClient(create_app(engine, authenticate=DOOR_TOKENS.__getitem__)) as client:
        before = len(_caseload(engine))
        for path in ("/ledger/verifier-key", "/ledger/checkpoint"):
            answer = client.get(path, headers={"Authorization": "Bearer aud"})
            assert answer.status_code == 200, answer.text
    assert len(_caseload(engine)) == before


# -- from where: the client's address (issue 12 audit, A10) -------------------------------------


def _sealed_entries(engine: Engine, subject: str) -> list[ev.AccessRecorded]:
    """The access log's entries as sealed, every field (the view shows fewer)."""
    records = engine.store.load(access_stream(subject))
    decoded = engine._codec.decode(records)  # no public reader of the sealed entries
    return [e for e in decoded if isinstance(e, ev.AccessRecorded)]


def test_an_http_access_records_the_clients_address(journey: Journey, engine: Engine) -> None:
    """L9's "from where" was only the access point. Each entry an HTTP request writes, a
    read, a refusal and a caseload search alike, now names the client's address; a read from
    Python names none; an entry written before the field existed loads with none."""
    journey.opened()
    tokens = {"vt": actor_of("vt-ijsselland"), "wd": DEVENTER}
    app = create_app(engine, authenticate=tokens.__getitem__)
    with TestClient(app, client=("203.0.113.7", 50123)) as client:
        for path, token in ((f"/cases/{journey.case_id}", "vt"), (f"/cases/{MISSING}", "wd")):
            client.get(path, headers={"Authorization": f"Bearer {token}"})
        client.get(f"/cases/{journey.case_id}", headers={"Authorization": "Bearer wd"})
    engine.show(journey.case_id, actor=actor_of("vt-ijsselland"))
    on_case = [
        (e.actor.organisation, e.outcome, e.client)
        for e in _sealed_entries(engine, journey.case_id)
    ]
    assert on_case[-3:] == [
        ("vt-ijsselland", "allowed", "203.0.113.7"),
        (DEVENTER.organisation, "denied", "203.0.113.7"),
        ("vt-ijsselland", "allowed", ""),
    ]
    probes = [e for e in _sealed_entries(engine, CASELOAD) if e.actor == DEVENTER]
    assert [(e.detail, e.client) for e in probes] == [("NotFound", "203.0.113.7")]
    old = ev.AccessRecorded.model_validate_json(probes[0].model_dump_json(exclude={"client"}))
    assert old.client == ""
