"""One contract suite for the credential half of every EventStore: API keys, idempotency.

Mix ``CredentialStoreContract`` into a class that provides the ``store`` and ``make_store``
fixtures (``EventStoreContract`` does); ``SqlCredentialStoreContract`` adds what only a
database shows and needs ``database_url`` too. Ids are synthetic, hashes and bodies bytes.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest
from alembic import command
from notification_contract import EVERY_BYTE, MINUTE, PLUS_TWO
from sqlalchemy import create_engine, text
from store_contract import T0, MakeStore

from phasedcare.errors import StoreError
from phasedcare.ledger.keys import WrappedKey
from phasedcare.service.ports import ApiKey, EventStore, IdempotencyRecord
from phasedcare.store import SqlEventStore, upgrade_database
from phasedcare.store.migrate import alembic_config

RACERS = 6


def api_key(key_id: str, *, actor: str = "u-a@org-a:professional", at: int = 0) -> ApiKey:
    """A synthetic API key whose token hash holds every byte value."""
    return ApiKey(
        key_id=key_id,
        actor=actor,
        label=f"client {key_id}",
        token_hash=EVERY_BYTE,
        created_at=T0 + at * MINUTE,
    )


def idempotency(
    key: str,
    *,
    actor: str = "u-a@org-a:professional",
    status: int = 201,
    case_id: str | None = "c-1",
    at: int = 0,
) -> IdempotencyRecord:
    """A synthetic stored response to ``POST /cases`` under an idempotency key, made ``at``
    minutes after T0."""
    return IdempotencyRecord(
        key=key,
        actor=actor,
        method="POST",
        path="/cases",
        request_hash="ab" * 32,
        status=status,
        response_body=b'{"case_id":"c-1"}' + EVERY_BYTE,
        created_at=T0 + at * MINUTE,
        case_id=case_id,
    )


def stored_keys(store: EventStore, keys: list[str]) -> list[str]:
    """Which of these keys (of the default actor) still have a record."""
    return [k for k in keys if store.idempotency_get("u-a@org-a:professional", k) is not None]


def put_in_step(
    store: EventStore, record: IdempotencyRecord, barrier: threading.Barrier
) -> IdempotencyRecord:
    """Wait for the other racers, then store ``record``."""
    barrier.wait(timeout=30)
    return store.idempotency_put(record)


class CredentialStoreContract:
    """API keys and idempotency records, the same over every backend."""

    def test_an_api_key_comes_back_byte_for_byte_with_aware_utc_times(
        self, store: EventStore
    ) -> None:
        """The token hash keeps every byte; the creation time comes back aware at UTC."""
        store.add_api_key(api_key("k1"))
        found = store.api_key("k1")
        assert found == api_key("k1")
        assert found is not None
        assert found.created_at.utcoffset() == timedelta(0)

    def test_times_given_at_another_offset_keep_their_instant(self, store: EventStore) -> None:
        """A key and a record made at +02:00 come back at the same instant."""
        store.add_api_key(replace(api_key("k1"), created_at=T0.astimezone(PLUS_TWO)))
        record = replace(idempotency("key-1"), created_at=T0.astimezone(PLUS_TWO))
        store.idempotency_put(record)
        found = store.api_key("k1")
        stored = store.idempotency_get(record.actor, "key-1")
        assert (found and found.created_at, stored and stored.created_at) == (T0, T0)

    def test_an_unknown_api_key_is_none(self, store: EventStore) -> None:
        """Asking for a key id nobody stored answers None."""
        store.add_api_key(api_key("k1"))
        assert store.api_key("k2") is None

    def test_api_keys_list_by_creation_time_then_id(self, store: EventStore) -> None:
        """Keys come back oldest first, ties broken by id, revoked ones included."""
        for key in (api_key("k3", at=1), api_key("k2", at=0), api_key("k1", at=1)):
            store.add_api_key(key)
        store.revoke_api_key("k2", revoked_at=T0 + 5 * MINUTE)
        assert [k.key_id for k in store.api_keys()] == ["k2", "k1", "k3"]

    def test_revoking_keeps_the_key_and_the_first_revocation_time(self, store: EventStore) -> None:
        """A revoked key stays listed with its revocation time; revoking again changes nothing."""
        store.add_api_key(api_key("k1"))
        first = store.revoke_api_key("k1", revoked_at=T0 + MINUTE)
        again = store.revoke_api_key("k1", revoked_at=T0 + 2 * MINUTE)
        expected = replace(api_key("k1"), revoked_at=T0 + MINUTE)
        assert (first, again, store.api_key("k1")) == (expected, expected, expected)

    def test_revoking_an_unknown_key_answers_none(self, store: EventStore) -> None:
        """Revoking a key id nobody stored writes nothing and answers None."""
        assert store.revoke_api_key("k9", revoked_at=T0) is None
        assert store.api_keys() == []

    def test_a_revocation_is_seen_through_another_opening(
        self, store: EventStore, make_store: MakeStore
    ) -> None:
        """A key revoked through one store is revoked for every other opening of the database."""
        store.add_api_key(api_key("k1"))
        other = make_store()
        try:
            other.revoke_api_key("k1", revoked_at=T0 + MINUTE)
        finally:
            if other is not store:
                other.close()
        found = store.api_key("k1")
        assert found is not None
        assert found.revoked_at == T0 + MINUTE

    def test_an_idempotency_record_comes_back_byte_for_byte(self, store: EventStore) -> None:
        """The response body keeps every byte; the time comes back aware at UTC."""
        record = idempotency("key-1")
        assert store.idempotency_put(record) == record
        stored = store.idempotency_get(record.actor, "key-1")
        assert stored == record
        assert stored is not None
        assert stored.created_at.utcoffset() == timedelta(0)

    def test_an_idempotency_key_is_scoped_to_its_actor(self, store: EventStore) -> None:
        """The same key used by two actors is two records; an unknown one is None."""
        mine = idempotency("key-1")
        theirs = idempotency("key-1", actor="u-b@org-b:professional", status=200)
        store.idempotency_put(mine)
        store.idempotency_put(theirs)
        found = [
            store.idempotency_get(mine.actor, "key-1"),
            store.idempotency_get(theirs.actor, "key-1"),
            store.idempotency_get(mine.actor, "key-2"),
        ]
        assert found == [mine, theirs, None]

    def test_a_second_put_with_the_same_key_returns_the_first_record(
        self, store: EventStore
    ) -> None:
        """Another request stored under a taken (actor, key) gets the first one back, no error."""
        first = idempotency("key-1")
        later = replace(first, request_hash="cd" * 32, status=409, response_body=b"other")
        store.idempotency_put(first)
        assert store.idempotency_put(later) == first
        assert store.idempotency_get(first.actor, "key-1") == first

    def test_expiry_deletes_exactly_the_records_made_before_the_moment(
        self, store: EventStore
    ) -> None:
        """Records made before the moment go, one made at it stays; expiring again deletes
        nothing. The moment may come at another offset."""
        for minute in range(4):
            store.idempotency_put(idempotency(f"key-{minute}", at=minute))
        keys = [f"key-{minute}" for minute in range(4)]
        moment = (T0 + 2 * MINUTE).astimezone(PLUS_TWO)
        assert store.idempotency_expire(moment) == 2
        assert stored_keys(store, keys) == ["key-2", "key-3"]
        assert store.idempotency_expire(moment) == 0
        assert store.idempotency_expire(T0 + 10 * MINUTE) == 2
        assert stored_keys(store, keys) == []

    def test_erasing_a_case_deletes_its_idempotency_records_only(self, store: EventStore) -> None:
        """destroy_case_key takes the case's records with its key; other cases' records and
        records naming no case stay."""
        store.idempotency_put(idempotency("a-1", case_id="c-a"))
        store.idempotency_put(idempotency("a-2", case_id="c-a", at=1))
        store.idempotency_put(idempotency("b-1", case_id="c-b"))
        store.idempotency_put(idempotency("old", case_id=None))
        store.add_case_keys([WrappedKey(case_id="c-a", version=1, kek_id="k1", wrapped=b"w")])
        assert store.destroy_case_key("c-a") is True
        assert stored_keys(store, ["a-1", "a-2", "b-1", "old"]) == ["b-1", "old"]
        assert store.idempotency_get("u-a@org-a:professional", "b-1") == idempotency(
            "b-1", case_id="c-b"
        )

    @pytest.mark.parametrize("openings", ["one shared store", "a store each"])
    def test_racing_puts_with_one_key_all_get_the_same_record(
        self, store: EventStore, make_store: MakeStore, openings: str
    ) -> None:
        """Threads storing different outcomes under one key in step: all get one winner's."""
        barrier = threading.Barrier(RACERS)
        stores = [store if openings == "one shared store" else make_store() for _ in range(RACERS)]
        records = [replace(idempotency("key-1"), status=200 + n) for n in range(RACERS)]
        try:
            with ThreadPoolExecutor(max_workers=RACERS) as pool:
                runs = [
                    pool.submit(put_in_step, s, r, barrier)
                    for s, r in zip(stores, records, strict=True)
                ]
                winners = {run.result(timeout=60) for run in runs}
        finally:
            for other in stores:
                if other is not store:
                    other.close()
        assert len(winners) == 1
        assert winners == {store.idempotency_get(records[0].actor, "key-1")}


class SqlCredentialStoreContract(CredentialStoreContract):
    """What only a database shows; mix in with ``database_url``, ``store`` and ``make_store``."""

    def test_a_driver_failure_is_a_store_error(self, store: EventStore, database_url: str) -> None:
        """Without the tables, storing a key or a record raises StoreError, not a driver error."""
        admin = create_engine(database_url)
        with admin.begin() as conn:
            conn.execute(text("DROP TABLE api_keys"))
            conn.execute(text("DROP TABLE idempotency_records"))
        admin.dispose()
        with pytest.raises(StoreError, match="writing the API key failed"):
            store.add_api_key(api_key("k1"))
        with pytest.raises(StoreError, match="writing the idempotency record failed"):
            store.idempotency_put(idempotency("key-1"))

    def test_a_record_kept_before_0007_loses_its_unkeyed_digest_and_names_no_case(
        self, database_url: str
    ) -> None:
        """Migration 0007 keeps older records (until they expire) but blanks their digests,
        which were unkeyed SHA-256 over the request and could confirm a guessed name."""
        command.downgrade(alembic_config(database_url), "0006")
        admin = create_engine(database_url)
        with admin.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO idempotency_records (actor, key, method, path, request_hash,"
                    " status, response_body, created_at) VALUES ('u-a@org-a:professional',"
                    " 'old', 'POST', '/cases', :digest, 201, :body, :at)"
                ),
                {"digest": "ab" * 32, "body": b"{}", "at": T0},
            )
        admin.dispose()
        upgrade_database(database_url)
        store = SqlEventStore(database_url)
        try:
            found = store.idempotency_get("u-a@org-a:professional", "old")
            assert found is not None
            assert (found.request_hash, found.case_id, found.response_body) == ("", None, b"{}")
            assert store.idempotency_expire(T0 + MINUTE) == 1
        finally:
            store.close()


class PostgresCredentialStoreContract(SqlCredentialStoreContract):
    """What only PostgreSQL shows: a session in another time zone."""

    def test_times_come_back_in_utc_whatever_the_session_time_zone(
        self, store: EventStore, database_url: str
    ) -> None:
        """A session at Europe/Amsterdam still reads key and record moments at UTC."""
        store.add_api_key(api_key("k1"))
        store.revoke_api_key("k1", revoked_at=T0 + MINUTE)
        store.idempotency_put(idempotency("key-1"))
        amsterdam = SqlEventStore(database_url + "%20-cTimeZone%3DEurope/Amsterdam")
        try:
            key = amsterdam.api_key("k1")
            record = amsterdam.idempotency_get("u-a@org-a:professional", "key-1")
        finally:
            amsterdam.close()
        assert key is not None
        assert record is not None
        moments = [key.created_at, key.revoked_at, record.created_at]
        assert [m.utcoffset() if m else None for m in moments] == [timedelta(0)] * 3
        assert moments == [T0, T0 + MINUTE, T0]
