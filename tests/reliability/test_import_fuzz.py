"""Bad import files: every mutated or garbage file is refused with one clear error naming its
line, repeats nothing the file held, and leaves the store as it was.

A valid file of two case histories (members named with canaries) is mutated once: broken
JSON, garbage or non-UTF-8 bytes, wrong types, unknown commands, fields or keys, naive,
backward or future times, unauthorised actors, refused decisions, oversize values, a case
that exists. The import runs against a SQLite file that already holds one imported case.
Per example the harness counts the rows of event_records (cases), case_records,
case_deadlines, case_handovers, outbox_messages, household_index and case_keys (cases)
before and after: all equal. What the access log records for a refused file: exactly one
entry in the caseload's log (``~caseload~access``): action ``import``, outcome
``refused``, detail ``line=N <error class>[:<rule>]``; counts and names of rules only.

Default run (the profile's examples spread over the mutation kinds, a few seconds)::

    .venv/bin/pytest tests/reliability/test_import_fuzz.py

CI profile (``HYPOTHESIS_PROFILE=ci``, 10 examples a kind, about 12 s) and soak (about 330 a
kind, several minutes)::

    HYPOTHESIS_PROFILE=soak .venv/bin/pytest tests/reliability/test_import_fuzz.py -p no:randomly
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bad_input_strategies import BIRTH_DATE, CANARIES, OUTSIDERS, SYSTEM, mutated_commands
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from harness import Harness
from import_support import VT, history, line, region
from phasedcare.domain.actors import Actor
from phasedcare.domain.policy import default_policy
from phasedcare.ledger.blind_index import BlindIndex
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, InMemoryKeyProvider
from phasedcare.service.access import CASELOAD
from phasedcare.service.engine import Engine
from phasedcare.service.importing import COMMANDS, MAX_LINE_BYTES, ImportRejected
from phasedcare.store.migrate import upgrade_database
from phasedcare.store.sql import SqlEventStore
from phasedcare.testing import ManualClock

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
SECRETS = (*CANARIES, BIRTH_DATE.isoformat())
"""What no refusal or log line may repeat: the canary names and the synthetic birth date."""

BASE = [json.loads(text) for text in region(2, START, prefix="c-fuzz", names=CANARIES)]
STORED = history("c-stored", START - timedelta(days=3))
COUNTED = {
    "event_records": "case_id not like '%~%'",
    "case_records": "1 = 1",
    "case_deadlines": "1 = 1",
    "case_handovers": "1 = 1",
    "outbox_messages": "1 = 1",
    "household_index": "1 = 1",
    "case_keys": "case_id not like '%~%'",
}


@dataclass(frozen=True)
class BadFile:
    """A mutated import file and the line its refusal must name (None: the file as a whole)."""

    kind: str
    data: bytes
    line: int | None


def encoded(entries: list[Any]) -> list[bytes]:
    """Entries as lines (bytes are taken as they are)."""
    return [e if isinstance(e, bytes) else json.dumps(e).encode() for e in entries]


def bad_file(kind: str, entries: list[Any], line_number: int | None) -> BadFile:
    """The file's bytes, one entry a line."""
    return BadFile(kind, b"\n".join(encoded(entries)) + b"\n", line_number)


# -- mutations: each returns a file that must be refused at a known line ----------------------

Mutation = Callable[[st.DrawFn], BadFile]
_INDEX = st.integers(min_value=0, max_value=len(BASE) - 1)
_INVALID_UTF8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])


def _not_blank(data: bytes) -> bool:
    try:
        return bool(data.decode("utf-8").strip())
    except UnicodeDecodeError:
        return True


def _replaced(kind: str, index: int, entry: Any) -> BadFile:
    entries: list[Any] = [*BASE[:index], entry, *BASE[index + 1 :]]
    return bad_file(kind, entries, index + 1)


def _broken_json(draw: st.DrawFn) -> BadFile:
    index = draw(_INDEX)
    text = encoded([BASE[index]])[0]
    cut = draw(st.integers(min_value=1, max_value=len(text) - 1))
    return _replaced("broken JSON", index, text[:cut])


def _garbage(draw: st.DrawFn) -> BadFile:
    junk = st.binary(min_size=1, max_size=300).filter(lambda b: b"\n" not in b and _not_blank(b))
    return _replaced("garbage", draw(_INDEX), draw(junk))


def _not_utf8(draw: st.DrawFn) -> BadFile:
    index = draw(_INDEX)
    text = encoded([BASE[index]])[0]
    at = draw(st.integers(min_value=0, max_value=len(text)))
    return _replaced("non-UTF-8 bytes", index, text[:at] + draw(_INVALID_UTF8) + text[at:])


def _wrong_fields(draw: st.DrawFn) -> BadFile:
    index = draw(_INDEX)
    original = BASE[index]
    attempt = draw(mutated_commands(original["fields"]["case_id"]))
    entry = {**original, "command": attempt.command_type.__name__, "fields": attempt.fields}
    return _replaced("wrong or unknown fields", index, entry)


def _unknown_command(draw: st.DrawFn) -> BadFile:
    index = draw(_INDEX)
    name = draw(st.sampled_from(CANARIES) | st.text(max_size=40)).strip()
    name = name if name not in COMMANDS else name + "X"
    return _replaced("unknown command", index, {**BASE[index], "command": name})


def _unknown_key(draw: st.DrawFn) -> BadFile:
    index = draw(_INDEX)
    key = draw(st.sampled_from(CANARIES) | st.sampled_from(["case_id", "id", "Actor", "at "]))
    return _replaced("unknown key", index, {**BASE[index], key: CANARIES[0]})


def _wrong_line_type(draw: st.DrawFn) -> BadFile:
    index = draw(_INDEX)
    key = draw(st.sampled_from(["at", "actor", "command", "fields"]))
    value = draw(st.sampled_from([None, 7, [CANARIES[0]], {"x": CANARIES[1]}, True, 1.5]))
    entry = {**BASE[index], key: value}
    if draw(st.booleans()):
        entry = {k: v for k, v in entry.items() if k != key}  # a key missing instead
    return _replaced("wrong line types", index, entry)


def _naive_time(draw: st.DrawFn) -> BadFile:
    index = draw(_INDEX)
    naive = datetime.fromisoformat(BASE[index]["at"]).replace(tzinfo=None).isoformat()
    return _replaced("naive time", index, {**BASE[index], "at": naive})


def _previous_of_case(index: int) -> int | None:
    case_id = BASE[index]["fields"]["case_id"]
    earlier = [n for n in range(index) if BASE[n]["fields"]["case_id"] == case_id]
    return earlier[-1] if earlier else None


def _backward_time(draw: st.DrawFn) -> BadFile:
    index = draw(_INDEX.filter(lambda n: _previous_of_case(n) is not None))
    previous = _previous_of_case(index)
    assert previous is not None
    back = timedelta(seconds=draw(st.integers(min_value=1, max_value=10**8)))
    at = (datetime.fromisoformat(BASE[previous]["at"]) - back).isoformat()
    return _replaced("backward time", index, {**BASE[index], "at": at})


def _future_time(draw: st.DrawFn) -> BadFile:
    index = draw(_INDEX)
    ahead = timedelta(seconds=draw(st.integers(min_value=1, max_value=10**9)))
    return _replaced("future time", index, {**BASE[index], "at": (NOW + ahead).isoformat()})


def _unauthorised(draw: st.DrawFn) -> BadFile:
    index = draw(_INDEX)
    who: Actor = draw(st.sampled_from([*OUTSIDERS, SYSTEM]))
    return _replaced("unauthorised actor", index, {**BASE[index], "actor": str(who)})


_REFUSED = [
    ("FireEvent", {"chart": "phase", "event": "naar_herstel"}),
    ("FireEvent", {"chart": "phase", "event": "afsluiten"}),
    ("FireEvent", {"chart": "phase", "event": "heropenen", "reason": CANARIES[2]}),
    ("RecordConditionStatus", {"condition_id": "c9", "status": "met", "observed_on": "2026-02-02"}),
    ("WithdrawHandover", {"handover_id": "h9"}),
    ("ReleaseLegalHold", {"reason": CANARIES[0]}),
    ("ExtendHuisverbod", {"ends_on": "2026-02-20"}),
]


def _refused_decision(draw: st.DrawFn) -> BadFile:
    index = draw(_INDEX)
    after = BASE[index]
    command, fields = draw(st.sampled_from(_REFUSED))
    at = datetime.fromisoformat(after["at"])
    extra = line(at, VT, command, case_id=after["fields"]["case_id"], **fields)
    entries: list[Any] = [*BASE[: index + 1], extra, *BASE[index + 1 :]]
    return bad_file("refused decision", entries, index + 2)


def _oversize(draw: st.DrawFn) -> BadFile:
    index = draw(st.sampled_from([n for n, e in enumerate(BASE) if e["command"] == "OpenCase"]))
    size = draw(st.sampled_from([10_001, 50_000, MAX_LINE_BYTES]))
    fields = {**BASE[index]["fields"], "summary": (CANARIES[1] + " ") * (size // 16 + 1)}
    return _replaced("oversize value", index, {**BASE[index], "fields": fields})


def _existing_case(draw: st.DrawFn) -> BadFile:
    index = draw(st.integers(min_value=0, max_value=len(BASE)))
    entries: list[Any] = [*BASE[:index], STORED[0], *BASE[index:]]
    return bad_file("case that exists", entries, index + 1)


MUTATIONS: dict[str, Mutation] = {
    "broken JSON": _broken_json,
    "garbage": _garbage,
    "non-UTF-8 bytes": _not_utf8,
    "wrong or unknown fields": _wrong_fields,
    "unknown command": _unknown_command,
    "unknown key": _unknown_key,
    "wrong line types": _wrong_line_type,
    "naive time": _naive_time,
    "backward time": _backward_time,
    "future time": _future_time,
    "unauthorised actor": _unauthorised,
    "refused decision": _refused_decision,
    "oversize value": _oversize,
    "case that exists": _existing_case,
}


# -- the world: a SQLite file holding one imported case ---------------------------------------


@dataclass
class World:
    """The engine, its database file, and the Veilig Thuis operator."""

    engine: Engine
    path: Path
    operator: Actor

    def counts(self) -> dict[str, int]:
        """Rows per counted table."""
        with sqlite3.connect(self.path) as db:
            return {
                table: int(db.execute(f"select count(*) from {table} where {where}").fetchone()[0])
                for table, where in COUNTED.items()
            }

    def import_entries(self) -> list[tuple[str, str]]:
        """The caseload access log's import entries: (outcome, detail)."""
        entries = self.engine._access.entries(CASELOAD)  # no public reader for the caseload
        return [(e.outcome, e.detail) for e in entries if e.action == "import"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One engine (no auditor: no timer writes while counting) over a migrated SQLite file."""
    path = tmp_path_factory.mktemp("import-fuzz") / "fuzz.db"
    upgrade_database(f"sqlite:///{path}")
    store = SqlEventStore(f"sqlite:///{path}")
    codec = RecordCodec(keys=CaseKeys(store, InMemoryKeyProvider()))
    engine = Engine(
        store=store,
        policy=default_policy(),
        codec=codec,
        clock=ManualClock(NOW),
        blind_index=BlindIndex.generate(),
    )
    operator = Actor.parse(VT)
    engine.import_lines(encoded(STORED), actor=operator)
    yield World(engine, path, operator)
    engine.close()


def refused(world: World, data: bytes) -> ImportRejected:
    """Import the bytes as the CLI reads a file; the refusal, and no secret in logs."""
    lines = data.splitlines(keepends=True)
    with capture_logs() as logs, pytest.raises(ImportRejected) as caught:
        world.engine.import_lines(lines, actor=world.operator)
    assert not [s for s in SECRETS if s in repr(logs)]
    return caught.value


def examples() -> int:
    """A sixth of the profile's examples for each mutation kind (at least four)."""
    return max(4, settings.default.max_examples // 6)


@pytest.mark.parametrize("kind", list(MUTATIONS))
def test_a_bad_import_file_is_refused_at_its_line_and_changes_nothing(
    world: World, harness: Harness, kind: str
) -> None:
    """Each mutation: ImportRejected naming the line, no value echoed, tables unchanged, one
    refused entry in the caseload's access log."""

    @settings(max_examples=examples())
    @given(bad=st.composite(MUTATIONS[kind])())
    def check(bad: BadFile) -> None:
        before, logged = world.counts(), world.import_entries()
        refusal = refused(world, bad.data)
        where = "import file" if bad.line is None else f"line {bad.line}"
        assert (refusal.line, refusal.message.split(":")[0]) == (bad.line, where)
        assert "\n" not in refusal.message
        assert not [s for s in SECRETS if s in refusal.message]
        assert world.counts() == before
        detail = f"line={bad.line or 0} {refusal.cause}" + (
            f":{refusal.rule}" if refusal.rule else ""
        )
        assert world.import_entries() == [*logged, ("refused", detail)]
        harness.count("bad input: import files refused")

    check()


@pytest.mark.parametrize("data", [b"", b"\n\n", b"  \r\n\t\n", "\ufeff\n".encode()])
def test_an_empty_file_is_refused_as_a_whole(world: World, harness: Harness, data: bytes) -> None:
    """No line to import: refused for the file as a whole, nothing written."""
    before = world.counts()
    refusal = refused(world, data)
    assert (refusal.line, refusal.message) == (
        None,
        "import file: the file holds no lines to import",
    )
    assert world.counts() == before
    harness.count("bad input: import files refused")
