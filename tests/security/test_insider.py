"""The insider: write access to the database, no key material, trying to be believed.

Each attack is made with plain SQL and SHA-256 only, on SQLite and on PostgreSQL, against a
region written through the engine and checkpointed. The server then does what it always
does (reads, signs its next checkpoint), and ``verify`` (public key only) must name the
first bad record or the case. Reads refuse what the engine did not write.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import os
import random
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from harness import Harness
from phasedcare.api import create_app
from phasedcare.bootstrap import (
    api_keys_of,
    build,
    build_authenticator,
    build_verifier,
    initialise,
)
from phasedcare.config import Settings
from phasedcare.domain.actors import Role
from phasedcare.domain.events import EVENT_TYPES, CaseErased
from phasedcare.errors import Erased, NotAuthentic
from phasedcare.ledger.authenticity import SIGNED_TOMBSTONE
from phasedcare.ledger.bundle import verify_bundle
from phasedcare.ledger.chain import leaf_hash
from phasedcare.ledger.mapper import EventMapper
from phasedcare.ledger.records import RecordHeader
from phasedcare.ledger.verify import VerifyReport
from phasedcare.service.access import CASELOAD
from phasedcare.service.engine import Engine
from phasedcare.store import upgrade_database
from phasedcare.store.migrate import alembic_config
from phasedcare.store.tables import EventRecord
from phasedcare.testing import ManualClock, actor_of
from support import Journey

EVENTS = EventRecord.__table__  # type: ignore[attr-defined]
VT = actor_of("vt-ijsselland", user="u-vt-01")
WIJKTEAM = actor_of("wijkteam-zwolle", user="u-wt-01")
AUDITOR = actor_of("vt-ijsselland", user="u-aud-01", role=Role.auditor)
FORGERIES_PER_TYPE = int(os.environ.get("PHASEDCARE_INSIDER_FORGERIES", "1"))


@dataclass
class Region:
    """A home with two checkpointed households; ``case_id`` is the one attacked."""

    home: Path
    url: str
    case_id: str
    clock: ManualClock

    def engine(self) -> Engine:
        """The server, as it runs after the attack (its keys, its checkpoints)."""
        return build(self.settings(), clock=self.clock)

    def settings(self) -> Settings:
        return Settings(home=self.home, database_url=self.url)

    def verify(self) -> VerifyReport:
        verifier = build_verifier(self.settings())
        try:
            return verifier.verify()
        finally:
            verifier.close()

    def sql(self, statement: str, **values: Any) -> None:
        engine = create_engine(self.url)
        with engine.begin() as conn:
            conn.execute(text(statement), values)
        engine.dispose()

    def serve_a_while(self) -> None:
        """What a running server does next: a read (an access record) and its checkpoint."""
        engine = self.engine()
        try:
            engine.list_cases(actor=VT)
            assert engine.auditor is not None
            engine.auditor.checkpoint()
        finally:
            engine.close()


def _region(home: Path, url: str) -> Region:
    settings = Settings(home=home, database_url=url)
    initialise(settings)
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = build(settings, clock=clock)
    case_id = Journey(engine, clock, VT, WIJKTEAM).in_directe_veiligheid().case_id
    Journey(engine, clock, VT, WIJKTEAM).opened().with_members()
    assert engine.auditor is not None
    engine.auditor.checkpoint()
    engine.close()
    return Region(home=home, url=url, case_id=case_id, clock=clock)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def region(request: pytest.FixtureRequest, tmp_path: Path) -> Region:
    """A fresh checkpointed region on SQLite or on a fresh PostgreSQL schema."""
    home = tmp_path / "home"
    url = (
        f"sqlite:///{home / 'phasedcare.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    return _region(home, url)


def append_forged(region: Region, event_type: str, *, key_id: str = "", payload: bytes) -> int:
    """Append a record to the attacked case with SQL and SHA-256 only; returns its position."""
    engine = create_engine(region.url)
    with engine.begin() as conn:
        sequence, previous = conn.execute(
            select(EVENTS.c.sequence, EVENTS.c.leaf_hash)
            .where(EVENTS.c.case_id == region.case_id)
            .order_by(EVENTS.c.sequence.desc())
            .limit(1)
        ).one()
        at = datetime(2026, 3, 2, 10, tzinfo=UTC)
        header = RecordHeader(region.case_id, sequence + 1, event_type, 1, at, key_id)
        conn.execute(
            EVENTS.insert().values(
                case_id=region.case_id,
                sequence=sequence + 1,
                event_type=event_type,
                schema_version=1,
                recorded_at=at,
                key_id=key_id,
                payload=payload,
                leaf_hash=leaf_hash(header, payload, bytes(previous)),
                tree_index=None,
            )
        )
        position = conn.execute(
            select(EVENTS.c.position).where(
                EVENTS.c.case_id == region.case_id, EVENTS.c.sequence == sequence + 1
            )
        ).scalar_one()
    engine.dispose()
    return int(position)


def _tree_index(region: Region, position: int) -> int | None:
    engine = create_engine(region.url)
    with engine.connect() as conn:
        found = conn.execute(
            select(EVENTS.c.tree_index).where(EVENTS.c.position == position)
        ).scalar_one()
    engine.dispose()
    return None if found is None else int(found)


def _case_reads_refused(region: Region) -> None:
    engine = region.engine()
    try:
        with pytest.raises(NotAuthentic, match=region.case_id):
            engine.show(region.case_id, actor=VT)
    finally:
        engine.close()


def test_the_region_verifies_before_the_insider_comes(region: Region) -> None:
    """Sanity: every record anchored, intact."""
    report = region.verify()
    assert report.intact, report.problems
    assert report.unanchored == 0
    assert report.records == report.tree_size > 10


def test_an_unsealed_record_of_every_type_is_refused_by_signer_reader_and_verifier(
    region: Region, harness: Harness
) -> None:
    """H1: a plain-JSON record of any type, correctly chained, is never integrated nor read.

    After each forgery the server reads and signs as usual: the record keeps no tree index,
    the case refuses to open, and verify names the record's position; removing it restores
    the ledger.
    """
    rng = random.Random(11)
    caught = 0
    for event_type in sorted(EVENT_TYPES):
        for _ in range(FORGERIES_PER_TYPE):
            payload = rng.randbytes(rng.randrange(1, 200)) if rng.random() < 0.5 else b"{}"
            position = append_forged(region, event_type, payload=payload)
            region.serve_a_while()
            assert _tree_index(region, position) is None, event_type
            report = region.verify()
            assert not report.intact
            assert report.problems[0].position == position, (event_type, report.problems[0])
            if event_type != "CaseErased":
                assert "unsealed" in report.problems[0].what
                _case_reads_refused(region)
            region.sql("DELETE FROM event_records WHERE position = :p", p=position)
            caught += 1
    harness.count("insider: unsealed forgeries caught", caught)
    region.serve_a_while()
    assert region.verify().intact


def test_a_record_claiming_a_data_key_that_does_not_open_is_never_anchored(
    region: Region,
) -> None:
    """key_id '1' over random bytes: verify cannot open it, but the signer can, and refuses."""
    position = append_forged(region, "ShareGranted", key_id="1", payload=os.urandom(80))
    region.serve_a_while()
    assert _tree_index(region, position) is None
    report = region.verify()
    assert report.problems[0].position == position
    assert "unanchored" in report.problems[0].what
    _case_reads_refused(region)


def test_a_forged_erasure_tombstone_is_caught_signed_or_not(region: Region) -> None:
    """An unsigned tombstone on a live case, and one with a made-up signature."""
    for key_id, payload in (("", b'{"rule": "x"}'), (SIGNED_TOMBSTONE, os.urandom(64) + b"{}")):
        position = append_forged(region, "CaseErased", key_id=key_id, payload=payload)
        region.serve_a_while()
        assert _tree_index(region, position) is None
        report = region.verify()
        assert report.problems[0].position == position, report.problems[0]
        assert "tombstone" in report.problems[0].what
        _case_reads_refused(region)
        region.sql("DELETE FROM event_records WHERE position = :p", p=position)


def test_an_unsigned_tombstone_after_a_deleted_key_row_is_refused_not_read_as_erased(
    region: Region,
) -> None:
    """The insider deletes the case's key row, then appends a well-formed unsigned CaseErased
    (the form tombstones had before they were signed): the signer leaves it out of the tree,
    reads refuse the case as not authentic instead of saying it was erased, and verify names
    the record. Only a checkpoint from before signed tombstones may cover such a record."""
    region.sql("DELETE FROM case_keys WHERE case_id = :c", c=region.case_id)
    tombstone = CaseErased(
        case_id=region.case_id,
        at=datetime(2026, 3, 2, 10, tzinfo=UTC),
        actor=VT,
        policy_version="2026.1",
        rule="vt-dossier",
        retained_until=date(2026, 1, 1),
    )
    payload = EventMapper().to_stored(tombstone, sequence=1).payload
    position = append_forged(region, "CaseErased", payload=payload)
    region.serve_a_while()
    assert _tree_index(region, position) is None
    report = region.verify()
    assert report.problems[0].position == position, report.problems[0]
    assert "unsigned erasure tombstone" in report.problems[0].what
    engine = region.engine()
    try:
        with pytest.raises(NotAuthentic, match="unsigned erasure tombstone") as refused:
            engine.show(region.case_id, actor=VT)
        assert not isinstance(refused.value, Erased)
        with pytest.raises(NotAuthentic):
            engine.history(region.case_id, actor=VT)
    finally:
        engine.close()


def test_a_deleted_key_row_is_reported_not_passed(region: Region) -> None:
    """M6: the case's data key removed by SQL: verify names the case, reads say so (no retry)."""
    region.sql("DELETE FROM case_keys WHERE case_id = :c", c=region.case_id)
    report = region.verify()
    assert not report.intact
    [problem] = [p for p in report.problems if p.case_id == region.case_id]
    assert "no data key and no erasure tombstone" in problem.what
    _case_reads_refused(region)


def test_obligation_rows_deleted_by_sql_are_found_and_come_back(region: Region) -> None:
    """Issue 14, the insider against obligations: the case's deadline rows (the list the sweep
    escalates from) deleted by SQL. The rows are a read model, not evidence: the obligations
    folded from the ledger still list the overdue veiligheidsbeoordeling, the projection check
    names the case, and the next command on the case (or a rebuild) writes the rows again, so
    the sweep escalates it. A forged waiver is an unsealed record, refused like every type."""
    region.clock.advance(days=10)  # the veiligheidsbeoordeling is overdue now
    region.sql("DELETE FROM case_deadlines WHERE case_id = :c", c=region.case_id)
    region.sql(
        "UPDATE case_records SET next_deadline = NULL, next_obligation = NULL WHERE case_id = :c",
        c=region.case_id,
    )
    engine = region.engine()
    try:
        owed = [o.id for o in engine.obligations(region.case_id, actor=VT, overdue=True)]
        assert "veiligheidsbeoordeling:vb" in owed
        listed = {r.case_id for r in engine.deadlines(actor=VT, overdue=True)}
        assert region.case_id not in listed  # the sweep's list no longer has it
        assert any(line.startswith(region.case_id) for line in engine.projection_differences())
        engine.record_incident(region.case_id, actor=VT, occurred_on=region.clock.today)
        rows = engine.deadlines(actor=VT, overdue=True)
        assert (region.case_id, "veiligheidsbeoordeling", "vb") in {
            (r.case_id, r.kind, r.ref) for r in rows
        }
        assert engine.projection_differences() == []
    finally:
        engine.close()


def test_a_ledger_with_no_checkpoint_left_is_unanchored(region: Region) -> None:
    """L8: every checkpoint deleted from the database and the witness folder: not intact."""
    region.sql("DELETE FROM checkpoints")
    shutil.rmtree(region.home / "checkpoints")
    report = region.verify()
    assert not report.intact
    assert report.checkpoints == []
    assert report.problems[-1].what.startswith(f"unanchored: {report.records} records")


def _bundle(region: Region) -> tuple[dict[str, Any], bytes]:
    engine = region.engine()
    try:
        bundle = engine.export_case(region.case_id, actor=AUDITOR)
        assert engine.auditor is not None
        return bundle, engine.auditor.public_key
    finally:
        engine.close()


def test_a_case_bundle_cut_anywhere_is_caught(region: Region, harness: Harness) -> None:
    """M4: dropping the newest records, the first, or one in the middle: never intact."""
    bundle, public = _bundle(region)
    report = verify_bundle(bundle, public=public)
    count = len(bundle["records"])
    assert report.intact, report.problems
    assert report.complete_through == count
    cuts = {
        "tail": lambda r: r[:-1],
        "tail of three": lambda r: r[:-3],
        "start": lambda r: r[1:],
        "middle": lambda r: r[: count // 2] + r[count // 2 + 1 :],
    }
    for name, cut in cuts.items():
        shortened = copy.deepcopy(bundle)
        shortened["records"] = cut(shortened["records"])
        report = verify_bundle(shortened, public=public)
        assert not report.intact, name
        assert report.complete_through is None, name
    missing = copy.deepcopy(bundle)
    missing["records"] = missing["records"][:-2]
    assert f"records after sequence {count - 2} are missing" in str(
        verify_bundle(missing, public=public).problems[0]
    )
    no_head = copy.deepcopy(bundle)
    del no_head["head"]
    assert "completeness is not proven" in str(verify_bundle(no_head, public=public).problems[0])
    harness.count("insider: bundle cuts caught", len(cuts) + 2)


def test_repeated_exports_reuse_the_newest_checkpoint(region: Region) -> None:
    """M3: twenty exports of an unchanged case sign no new checkpoint, write no witness file."""
    engine = region.engine()
    try:
        first = engine.export_case(region.case_id, actor=AUDITOR)  # the process's first commit
        notes = sorted((region.home / "checkpoints").iterdir())
        bundles = [first] + [engine.export_case(region.case_id, actor=AUDITOR) for _ in range(20)]
        assert sorted((region.home / "checkpoints").iterdir()) == notes
        assert {b["checkpoints"][0] for b in bundles} == {bundles[0]["checkpoints"][0]}
    finally:
        engine.close()


# -- API keys: minted with SQL alone ----------------------------------------------------------

MINTED_ACTOR = "u-x-01@igj:auditor"  # the region auditor: reads every case of the region
MINTED = "pck_00000000deadbeef_" + "A" * 43


def _insert_api_key(region: Region, token_hash: bytes, *, revoked: bool = False) -> None:
    region.sql(
        "INSERT INTO api_keys (key_id, actor, label, token_hash, created_at, revoked_at) "
        "VALUES ('00000000deadbeef', :actor, '', :hash, :at, :revoked)",
        actor=MINTED_ACTOR,
        hash=token_hash,
        at=datetime(2026, 12, 4, tzinfo=UTC),
        revoked=datetime(2026, 12, 4, tzinfo=UTC) if revoked else None,
    )


def _answers(region: Region, token: str) -> tuple[int, str, int]:
    """The server's answer to ``GET /cases`` with ``token``: status, detail (empty on a
    success), and how many accesses the minted key's actor was allowed in the caseload's log."""
    engine = region.engine()
    try:
        app = create_app(engine, authenticate=build_authenticator(region.settings(), engine))
        answer = TestClient(app).get("/cases", headers={"Authorization": f"Bearer {token}"})
        allowed = [
            e
            for e in engine._access.entries(CASELOAD)  # no public reader for it
            if e.actor == MINTED_ACTOR and e.outcome == "allowed"
        ]
        detail = answer.json().get("detail", "") if answer.status_code != 200 else ""
        return answer.status_code, detail, len(allowed)
    finally:
        engine.close()


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param(lambda token: hashlib.sha256(token.encode()).digest(), id="sha256"),
        pytest.param(
            lambda token: hmac.new(os.urandom(32), token.encode(), hashlib.sha256).digest(),
            id="hmac under a guessed key",
        ),
    ],
)
def test_an_api_key_row_inserted_by_sql_authenticates_nobody(region: Region, digest: Any) -> None:
    """Gap 1 of the issue 12 audit: the database operator inserts an api_keys row for the
    region auditor, hashed as the old release did (SHA-256) or under a key of its own. The
    server answers 401 and reads nothing; a key made as ``keys api create`` makes it works."""
    _insert_api_key(region, digest(MINTED))
    status, detail, allowed = _answers(region, MINTED)
    assert (status, allowed) == (401, 0), detail
    with api_keys_of(region.settings()) as keys:
        _, token = keys.create(AUDITOR, label="case system")
    assert _answers(region, token)[:2] == (200, "")


def test_a_key_whose_actor_is_rewritten_by_sql_authenticates_nobody(region: Region) -> None:
    """An operator who holds a wijkteam's integration key and writes the database points the
    key's row at the region auditor: the digest binds the actor, so the key now authenticates
    nobody (401), where before it would have read every case as the inspectie."""
    wijkteam_key = actor_of("wijkteam-zwolle", user="u-wt-01", role=Role.integration_admin)
    with api_keys_of(region.settings()) as keys:
        key, token = keys.create(wijkteam_key, label="case system")
    region.sql(
        "UPDATE api_keys SET actor = :actor WHERE key_id = :k", actor=MINTED_ACTOR, k=key.key_id
    )
    status, _, allowed = _answers(region, token)
    assert (status, allowed) == (401, 0)


def test_a_sha256_key_row_tells_only_its_token_holder_why_it_is_refused(region: Region) -> None:
    """Whoever holds the token of a row hashed without the key folder's key (a key of an
    older release, or one inserted by hand) is told so; any other token gets the one refusal."""
    _insert_api_key(region, hashlib.sha256(MINTED.encode()).digest())
    _, detail, _ = _answers(region, MINTED)
    assert "made without the key folder's key" in detail
    _, other, _ = _answers(region, MINTED[:-1] + "B")
    assert other == "the API key is not valid: it is malformed, unknown or revoked"


def test_keys_an_older_release_hashed_are_revoked_by_the_migration(region: Region) -> None:
    """A key stored by a release before 0014 (plain SHA-256, not revoked) is revoked by the
    migration to 0014: it cannot be rehashed without its token, and may have been forged."""
    command.downgrade(alembic_config(region.url), "0013")
    _insert_api_key(region, hashlib.sha256(MINTED.encode()).digest())
    upgrade_database(region.url)
    with api_keys_of(region.settings()) as keys:
        [key] = keys.list()
    assert key.revoked_at is not None
    status, detail, allowed = _answers(region, MINTED)
    assert (status, allowed) == (401, 0)
    assert "create a new key" in detail
