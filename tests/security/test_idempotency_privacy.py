"""Security finding M5: the idempotency records keep a keyed digest, expire, and go with the case.

The attack of the review is replayed against a real SQLite home: with only the database row,
guessed names and dates of birth no longer confirm anything. Then the record's life: within
the TTL a retry gets the first result (another body 422), after it the record is not found
and a retry runs as new, the sweep deletes expired rows, and erasing a case deletes its rows.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from phasedcare.api import create_app
from phasedcare.api.idempotency import derived_case_id, request_hash
from phasedcare.api.routes import _body_model
from phasedcare.bootstrap import build, initialise
from phasedcare.config import Settings
from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor
from phasedcare.errors import NotAuthorised
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.service.webhooks import WebhookSender
from phasedcare.testing import ManualClock, actor_of, memory_engine

VT_ACTOR = actor_of("vt-ijsselland", user="u-vt-01")
VT = {"Authorization": "Bearer tok-vt"}
MEMBER_PATH = "/cases/{case_id}/record-member"
SANNE = {"role": "kind", "name": "Sanne de Vries", "date_of_birth": "2019-04-02"}
GUESSES = [
    (name, born)
    for name in ["Jan Jansen", "Sanne de Vries", "Emma de Vries"]
    for born in [None, "2019-04-02", "2019-04-03"]
]


TOKENS = {"tok-vt": VT_ACTOR}


def _authenticate(token: str) -> Actor:
    if token not in TOKENS:
        raise NotAuthorised("the token identifies nobody", actor="-")
    return TOKENS[token]


def _client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine, authenticate=_authenticate))


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    """The API over the in-memory engine (TTL 24 hours)."""
    with _client(engine) as c:
        yield c


def _open(client: TestClient, key: str | None = None) -> str:
    headers = VT if key is None else {**VT, "Idempotency-Key": key}
    response = client.post("/cases", json={"via": "advies"}, headers=headers)
    assert response.status_code == 201
    case_id: str = response.json()["case_id"]
    return case_id


def _post(client: TestClient, case_id: str, body: dict[str, Any], key: str) -> Any:
    path = f"/cases/{case_id}/record-member"
    return client.post(path, json=body, headers={**VT, "Idempotency-Key": key})


def _unkeyed(method: str, path: str, fields: dict[str, Any]) -> str:
    """The digest as it was before the fix: SHA-256 over the request, no key."""
    text = f"{method} {path} {sorted((k, repr(v)) for k, v in fields.items())}"
    return hashlib.sha256(text.encode()).hexdigest()


def _guessed_fields(case_id: str, name: str, born: str | None) -> dict[str, Any]:
    body = {"role": "kind", "name": name, **({"date_of_birth": born} if born else {})}
    model = _body_model(cmd.RecordMember)
    return {**model.model_validate(body).model_dump(exclude_unset=True), "case_id": case_id}


def _matches(digest: Any, case_id: str, stored: str) -> list[tuple[str, str | None]]:
    """The guesses whose digest (computed by ``digest``) equals the stored one."""
    return [
        (name, born)
        for name, born in GUESSES
        if digest("POST", MEMBER_PATH, _guessed_fields(case_id, name, born)) == stored
    ]


def test_a_leaked_row_confirms_no_guessed_name(tmp_path: Path) -> None:
    """M5 replayed on a SQLite home: the stored digest matches no guess made without the key
    folder, unkeyed or under another key; only the home's own key reproduces it."""
    home = tmp_path / "home"
    initialise(Settings(home=home))
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = build(Settings(home=home), clock=clock)
    with _client(engine) as client:
        case_id = _open(client)
        assert _post(client, case_id, SANNE, "rt-1").status_code == 200
    db = sqlite3.connect(home / "phasedcare.db")
    [(stored, stored_case)] = db.execute(
        "SELECT request_hash, case_id FROM idempotency_records WHERE key = 'rt-1'"
    ).fetchall()
    db.close()
    stranger = memory_engine()  # an attacker's own index key
    assert _matches(_unkeyed, case_id, stored) == []
    assert _matches(lambda *a: request_hash(stranger, *a), case_id, stored) == []
    assert _matches(lambda *a: request_hash(engine, *a), case_id, stored) == [
        ("Sanne de Vries", "2019-04-02")
    ]
    sub_key = hmac.new(
        (home / "keys" / "index.key").read_bytes(), b"phasedcare-request-digest-v1", "sha256"
    ).digest()
    fields = _guessed_fields(case_id, "Sanne de Vries", "2019-04-02")
    text = f"POST {MEMBER_PATH} {sorted((k, repr(v)) for k, v in fields.items())}"
    assert stored == hmac.new(sub_key, text.encode(), "sha256").hexdigest()
    assert stored_case == case_id
    record = engine.store.idempotency_get(str(VT_ACTOR), "rt-1")
    assert record is not None
    assert record.created_at == clock.now  # the engine's clock, not the wall clock
    engine.close()
    stranger.close()


def test_within_the_ttl_a_retry_gets_the_first_result_and_another_body_422(
    client: TestClient, engine: Engine, clock: ManualClock
) -> None:
    """A day less a second later the same key and body answer the first result and write
    nothing; the same key with another body is still refused."""
    case_id = _open(client)
    first = _post(client, case_id, SANNE, "rt-1")
    clock.now += timedelta(hours=24) - timedelta(seconds=1)
    retry = _post(client, case_id, SANNE, "rt-1")
    assert (first.status_code, retry.status_code) == (200, 200)
    expected = {"case_id": case_id, "sequence": 2, "events": ["MemberRecorded"], "created_id": "m1"}
    assert retry.json() == first.json() == expected
    reused = _post(client, case_id, {**SANNE, "role": "pleger"}, "rt-1")
    assert reused.status_code == 422
    assert reused.json()["detail"] == (
        "this Idempotency-Key was used for another request; use a new key"
    )
    assert [m.name for m in engine.show(case_id, actor=VT_ACTOR).members] == ["Sanne de Vries"]


def test_an_expired_record_is_not_returned_and_a_retry_runs_as_new(
    client: TestClient, engine: Engine, clock: ManualClock
) -> None:
    """A day and a second later the record is gone: the lookup finds none (and deletes it),
    so the retry records a second member under a fresh record."""
    case_id = _open(client)
    _post(client, case_id, SANNE, "rt-1")
    clock.now += timedelta(hours=24, seconds=1)
    assert engine.idempotency_record(VT_ACTOR, "rt-1") is None
    assert engine.store.idempotency_get(str(VT_ACTOR), "rt-1") is None
    again = _post(client, case_id, SANNE, "rt-1")
    assert (again.status_code, again.json()["created_id"], again.json()["sequence"]) == (
        200,
        "m2",
        3,
    )
    fresh = engine.store.idempotency_get(str(VT_ACTOR), "rt-1")
    assert fresh is not None
    assert fresh.created_at == clock.now


def test_the_sweep_deletes_expired_records_and_keeps_the_rest(
    client: TestClient, engine: Engine, clock: ManualClock
) -> None:
    """The deadline sweep deletes the records older than the TTL and reports how many."""
    case_id = _open(client)
    _post(client, case_id, SANNE, "old")
    clock.advance(hours=12)
    _post(client, case_id, {"role": "kind", "name": "Cato Voorbeeld"}, "new")
    clock.advance(hours=13)
    jobs = Jobs(engine=engine, sender=WebhookSender(), clock=clock)
    assert jobs.sweep_deadlines().idempotency_expired == 1
    kept = [engine.store.idempotency_get(str(VT_ACTOR), k) for k in ("old", "new")]
    assert [r is not None for r in kept] == [False, True]
    assert jobs.sweep_deadlines().idempotency_expired == 0
    jobs.close()


def test_erasing_a_case_deletes_its_records(tmp_path: Path) -> None:
    """Retention on a SQLite home erases a case's records (OpenCase's included) and keeps
    another case's, with a TTL long enough that only the erasure can have removed them."""
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    settings = Settings(home=tmp_path / "home", idempotency_ttl_hours=10**6)
    initialise(settings)
    engine = build(settings, clock=clock)
    with _client(engine) as client:
        erased = _open(client, key="open-1")
        kept = _open(client, key="open-2")
        for event, key in [("advies_afronden", "fire-1"), ("afsluiten", "fire-2")]:
            chart = "vt" if event == "advies_afronden" else "phase"
            response = client.post(
                f"/cases/{erased}/fire-event",
                json={"chart": chart, "event": event},
                headers={**VT, "Idempotency-Key": key},
            )
            assert response.status_code == 200
    keys = ["open-1", "fire-1", "fire-2", "open-2"]
    before = [engine.store.idempotency_get(str(VT_ACTOR), k) for k in keys]
    assert [r and r.case_id for r in before] == [erased, erased, erased, kept]
    clock.advance(days=21 * 366)
    assert [d.due for d in engine.run_retention(actor=VT_ACTOR) if d.case_id == erased] == [True]
    after = [engine.store.idempotency_get(str(VT_ACTOR), k) for k in keys]
    assert [r and r.case_id for r in after] == [None, None, None, kept]
    engine.close()
    db = sqlite3.connect(tmp_path / "home" / "phasedcare.db")
    assert db.execute("SELECT key FROM idempotency_records").fetchall() == [("open-2",)]
    db.close()


def test_the_ttl_is_a_positive_setting_the_engine_follows(tmp_path: Path) -> None:
    """``idempotency_ttl_hours`` must be above zero; an engine built with 1 hour expires a
    record after an hour and a second, not before."""
    with pytest.raises(ValidationError, match="greater than 0"):
        Settings(idempotency_ttl_hours=0)
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = build(
        Settings(home=tmp_path, database_url="memory://", idempotency_ttl_hours=1), clock=clock
    )
    with _client(engine) as client:
        case_id = _open(client)
        _post(client, case_id, SANNE, "rt-1")
    clock.now += timedelta(minutes=59)
    assert engine.idempotency_record(VT_ACTOR, "rt-1") is not None
    clock.now += timedelta(minutes=1, seconds=1)
    assert engine.idempotency_record(VT_ACTOR, "rt-1") is None
    engine.close()


def test_a_case_id_from_an_idempotency_key_is_keyed(tmp_path: Path) -> None:
    """Gap A6 of the issue 12 audit: the case an OpenCase under an Idempotency-Key opens had
    the id c-<sha256(actor, key)[:16]>, known to anyone who knew or guessed the key. Now it is
    keyed: a retry and every engine of the region (one key folder) derive the same id, an
    engine with another key folder another, and the unkeyed formula none of them."""
    settings = Settings(home=tmp_path / "home")
    initialise(settings)
    engines = [build(settings), build(settings)]
    stranger = memory_engine()
    try:
        with _client(engines[0]) as client:
            case_id = _open(client, "k-open-1")
            assert _open(client, "k-open-1") == case_id
        unkeyed = "c-" + hashlib.sha256(f"{VT_ACTOR}\nk-open-1".encode()).hexdigest()[:16]
        assert case_id != unkeyed
        assert derived_case_id(engines[1], VT_ACTOR, "k-open-1") == case_id
        assert derived_case_id(stranger, VT_ACTOR, "k-open-1") != case_id
    finally:
        for engine in (*engines, stranger):
            engine.close()
