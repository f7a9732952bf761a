"""Bulk import of case histories: validated whole, decided like live commands, written whole."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from import_support import VT, WIJKTEAM, history, line, region
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import default_policy
from phasedcare.errors import NotAuthorised, StoreError
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, InMemoryKeyProvider
from phasedcare.service.access import CASELOAD
from phasedcare.service.engine import Engine
from phasedcare.service.importing import (
    MAX_LINE_BYTES,
    ImportRejected,
    ImportReport,
    parse_line,
    read_lines,
)
from phasedcare.service.ports import Append
from phasedcare.store.memory import InMemoryEventStore
from phasedcare.testing import ManualClock, actor_of

START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)  # a month before the engine's clock
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def dumped(entries: list[dict[str, Any]]) -> list[str]:
    """Lines of a file from dict entries."""
    return [json.dumps(entry) for entry in entries]


def imported(engine: Engine, lines: list[str] | list[bytes], **options: Any) -> ImportReport:
    """Import as the Veilig Thuis professional."""
    return engine.import_lines(lines, actor=Actor.parse(VT), **options)


def rejected(engine: Engine, lines: list[str] | list[bytes], **options: Any) -> ImportRejected:
    """The refusal of an import that must fail."""
    with pytest.raises(ImportRejected) as caught:
        imported(engine, lines, **options)
    return caught.value


def case_records(engine: Engine) -> int:
    """How many case records (not access-log entries) the store holds."""
    return sum(1 for r in engine.store.read_all() if "~" not in r.header.case_id)


def imports_logged(engine: Engine) -> list[tuple[str, str, str]]:
    """The caseload access log's import entries: (query, outcome, detail)."""
    entries = engine._access.entries(CASELOAD)  # the caseload's log has no public reader
    return [(e.query, e.outcome, e.detail) for e in entries if e.action == "import"]


def test_an_imported_case_equals_the_case_built_command_by_command(
    engine: Engine, vt: Actor
) -> None:
    """Same history, projection row and notifications as commands handled one by one, at the
    lines' times: the import decides with the engine's own rules."""
    lines = region(2, START)
    imported(engine, lines)
    clock = ManualClock(START)
    live = Engine(
        store=InMemoryEventStore(),
        policy=default_policy(),
        codec=RecordCodec(keys=CaseKeys(InMemoryEventStore(), InMemoryKeyProvider())),
        clock=clock,
    )
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for number, text in enumerate(lines, start=1):
        parsed = parse_line(number, text, now=now)
        assert parsed is not None
        clock.now = parsed.at
        live.handle(parsed.command, actor=parsed.actor)
    clock.now = now
    for case_id in ("c-imp-00000", "c-imp-00001"):
        assert engine.history(case_id, actor=vt) == live.history(case_id, actor=vt)
        kinds = [m.event_type for m in engine.store.messages(case_id=case_id)]
        assert kinds == [m.event_type for m in live.store.messages(case_id=case_id)]
    assert engine.list_cases(actor=vt) == live.list_cases(actor=vt)
    assert engine.projection_differences() == []
    assert engine.show("c-imp-00000", actor=vt).phase == "stabiele_veiligheid"


def test_a_refused_line_refuses_the_file_naming_line_class_and_rule(engine: Engine) -> None:
    """A transition the case cannot take yet refuses the whole file; nothing is written."""
    entries = history("c-1", START)
    entries.insert(9, line(START + timedelta(hours=8), VT, "FireEvent", case_id="c-1",
                           chart="phase", event="naar_stabiele_veiligheid"))  # fmt: skip
    refusal = rejected(engine, dumped(entries))
    assert (refusal.line, refusal.cause, refusal.rule) == (
        10,
        "TransitionRefused",
        "has_agreed_plan",
    )
    assert refusal.message.startswith("line 10: FireEvent refused (TransitionRefused:")
    assert (case_records(engine), engine.store.case_ids(), engine.store.messages()) == (0, [], [])
    assert imports_logged(engine) == [
        ("import", "refused", "line=10 TransitionRefused:has_agreed_plan")
    ]


def test_bad_lines_name_the_line_and_field_never_a_value(engine: Engine) -> None:
    """Wrong types, unknown fields and commands, broken JSON: each names its line and field,
    and no error repeats what the line held (names may be personal data)."""
    canary = "Zorro Kanariepiet"
    good = line(START, VT, "OpenCase", case_id="c-1", via="melding")
    bad_lines = {
        "fields.role": line(START, VT, "RecordMember", case_id="c-1", role=canary, name=canary),
        "fields": line(
            START, VT, "RecordMember", case_id="c-1", role="kind", name="Cato", **{canary: 1}
        ),
        "command": line(START, VT, canary, case_id="c-1"),
        "actor": line(START, canary, "OpenCase", case_id="c-2", via="melding"),
        "fields.name": line(START, VT, "RecordMember", case_id="c-1", role="kind", name=[canary]),
    }
    for field, bad in bad_lines.items():
        refusal = rejected(engine, dumped([good, bad]))
        assert (refusal.line, refusal.field) == (2, field)
        assert canary not in refusal.message
    broken = json.dumps(good)[:-1] + f', "{canary}": }}'
    refusal = rejected(engine, [json.dumps(good), broken])
    assert refusal.message.startswith("line 2: not valid JSON (Expecting value at column")
    assert canary not in refusal.message
    assert case_records(engine) == 0


@pytest.mark.parametrize(
    ("at", "rule"),
    [
        ("2026-02-02T10:00:00", "aware_time"),
        ("2026-02-02T07:00:00+00:00", "time_order"),
        ("2026-03-02T09:00:01+00:00", "not_in_future"),
    ],
)
def test_times_are_aware_never_backwards_in_a_case_nor_in_the_future(
    engine: Engine, at: str, rule: str
) -> None:
    """A naive time, one before the case's previous line, or one after now refuses the file."""
    entries = history("c-1", START)[:3]
    entries[2]["at"] = at
    refusal = rejected(engine, dumped(entries))
    assert (refusal.line, refusal.field, refusal.rule) == (3, "at", rule)


def test_a_case_is_opened_once_in_the_file_before_its_other_lines(engine: Engine) -> None:
    """A line about a case not yet opened, or a second OpenCase, refuses the file."""
    opening = line(START, VT, "OpenCase", case_id="c-1", via="melding")
    member = line(START, VT, "RecordMember", case_id="c-1", role="kind", name="Cato Voorbeeld")
    refusal = rejected(engine, dumped([member, opening]))
    assert (refusal.line, refusal.cause) == (1, "NotFound")
    refusal = rejected(engine, dumped([opening, member, opening]))
    assert (refusal.line, refusal.rule) == (3, "case_exists")
    assert "first on line 1" in refusal.message


def test_empty_and_blank_files_are_refused(engine: Engine) -> None:
    """A file with no lines to import is refused as a whole (no line to name)."""
    for lines in ([], ["", "  ", "\n"]):
        refusal = rejected(engine, lines)
        assert (refusal.line, refusal.message) == (
            None,
            "import file: the file holds no lines to import",
        )


def test_a_file_whose_cases_exist_is_refused_without_writing(engine: Engine) -> None:
    """Importing a file again is refused at the first case that exists; nothing is added."""
    lines = region(2, START)
    imported(engine, lines)
    before = case_records(engine)
    refusal = rejected(engine, lines)
    assert (refusal.line, refusal.rule) == (1, "case_exists")
    more = dumped(history("c-2", START))
    refusal = rejected(engine, [*more, lines[-1]])
    assert (refusal.line, refusal.rule) == (16, "case_exists")
    assert (case_records(engine), engine.store.case_ids()) == (
        before,
        ["c-imp-00000", "c-imp-00001"],
    )


def test_resume_skips_cases_with_this_history_and_refuses_any_other(engine: Engine) -> None:
    """resume writes only the missing cases; a stored case whose history differs refuses it."""
    first = dumped(history("c-1", START))
    imported(engine, first)
    both = first + dumped(history("c-2", START))
    report = imported(engine, both, resume=True)
    assert (report.cases, report.skipped_cases, report.events) == (1, 1, 15)
    assert engine.store.case_ids() == ["c-1", "c-2"]
    other = dumped(history("c-1", START + timedelta(minutes=1)))
    refusal = rejected(engine, other, resume=True)
    assert (refusal.line, refusal.rule, refusal.cause) == (1, "case_exists", "Refused")
    assert "another history" in refusal.message


def of_cases(appends: list[Append]) -> bool:
    """True for a batch of cases (access-log entries are appended through the store too)."""
    return all("~" not in a.case_id for a in appends)


class FailingStore(InMemoryEventStore):
    """Fails its n-th batch of cases, as a crash or a lost connection would."""

    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.fail_on, self.batches = fail_on, 0

    def append_batch(self, appends: list[Append]) -> None:
        self.batches += of_cases(appends)
        if of_cases(appends) and self.batches == self.fail_on:
            raise StoreError("the database went away")
        super().append_batch(appends)


def engine_over(store: InMemoryEventStore, clock: ManualClock) -> Engine:
    """An engine over a given in-memory store."""
    codec = RecordCodec(keys=CaseKeys(store, InMemoryKeyProvider()))
    return Engine(store=store, policy=default_policy(), codec=codec, clock=clock)


def test_an_interrupted_import_leaves_whole_cases_and_resume_finishes_it(
    clock: ManualClock, vt: Actor
) -> None:
    """A failed batch leaves the earlier batches' cases complete and no part of the others;
    running again with resume writes exactly the rest."""
    store = FailingStore(fail_on=2)
    engine = engine_over(store, clock)
    lines = region(4, START)
    with pytest.raises(StoreError):
        imported(engine, lines, batch_size=30)  # two cases per batch
    assert store.case_ids() == ["c-imp-00000", "c-imp-00001"]
    assert {p.sequence for p in engine.list_cases(actor=vt)} == {15}
    report = imported(engine, lines, resume=True, batch_size=30)
    assert (report.cases, report.skipped_cases, report.batches) == (2, 2, 1)
    assert [p.sequence for p in engine.list_cases(actor=vt)] == [15] * 4
    assert engine.projection_differences() == []


def test_only_veilig_thuis_of_the_region_imports_and_every_import_is_logged(
    engine: Engine,
) -> None:
    """Wijkteam and auditors are refused (logged as denied); the system may import; the log
    keeps counts only."""
    lines = dumped(history("c-1", START))
    for who in (actor_of("wijkteam-zwolle"), actor_of("vt-ijsselland", role=Role.auditor)):
        with pytest.raises(NotAuthorised, match="imports are run by Veilig Thuis"):
            engine.import_lines(lines, actor=who)
    system = actor_of("vt-ijsselland", user="system", role=Role.system)
    assert engine.import_lines(lines, actor=system, dry_run=True).events == 15
    imported(engine, lines)
    assert imports_logged(engine) == [
        ("import", "denied", "NotAuthorised"),
        ("import", "denied", "NotAuthorised"),
        ("import_dry_run", "allowed", "lines=15 cases=1 events=15 skipped=0"),
        ("import", "allowed", "lines=15 cases=1 events=15 skipped=0"),
    ]


def test_a_dry_run_decides_every_line_and_writes_no_case_nor_key(engine: Engine) -> None:
    """--dry-run reports what would be written and writes no record, row or data key."""
    report = imported(engine, region(3, START), dry_run=True)
    assert (report.lines, report.cases, report.events, report.batches) == (45, 3, 45, 0)
    case_keys = [k for k in engine.store.case_keys() if "~" not in k.case_id]
    assert (case_records(engine), engine.store.case_ids(), case_keys) == (0, [], [])
    refusal = rejected(engine, [*region(1, START)[:-1], '{"at": 1}'], dry_run=True)
    assert refusal.line == 15


@pytest.mark.parametrize(("batch_size", "batches"), [(1, 3), (16, 2), (500, 1)])
def test_batches_hold_whole_cases(engine: Engine, batch_size: int, batches: int) -> None:
    """A batch closes once it has batch_size commands, always after a whole case; progress
    hears of each batch."""
    heard: list[tuple[int, int]] = []
    report = imported(
        engine, region(3, START), batch_size=batch_size, progress=lambda *p: heard.append(p)
    )
    assert (report.batches, report.cases, report.events) == (batches, 3, 45)
    assert heard[-1] == (45, 45)
    assert len(heard) == batches


def test_imports_index_members_and_notify_like_live_commands(engine: Engine, vt: Actor) -> None:
    """Imported members are found through the blind index; handovers send their webhooks."""
    imported(engine, dumped(history("c-1", START)))
    assert engine.find_known_household(actor=vt, name="Cato Voorbeeld") == ["c-1"]
    kinds = [m.event_type for m in engine.store.messages(case_id="c-1")]
    assert kinds == ["nl.phasedcare.handover.proposed", "nl.phasedcare.handover.accepted"]


def test_the_published_schema_describes_the_lines(engine: Engine) -> None:
    """schemas/import-line.schema.json accepts the importer's lines, refuses an OpenCase
    without case_id, and resolves each command's fields from schemas/commands/."""
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in SCHEMAS.rglob("*.schema.json")]
    registry = Registry().with_resources(
        (document["$id"], Resource.from_contents(document)) for document in documents
    )
    schema = json.loads((SCHEMAS / "import-line.schema.json").read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, registry=registry)
    entries = history("c-1", START)
    assert [list(validator.iter_errors(entry)) for entry in entries] == [[]] * len(entries)
    no_id = line(START, VT, "OpenCase", via="melding")
    wrong = line(START, WIJKTEAM, "RecordMember", case_id="c-1", role="buurman", name="x")
    assert [len(list(validator.iter_errors(e))) for e in (no_id, wrong)] == [1, 1]
    assert rejected(engine, dumped([no_id])).field == "fields.case_id"


def test_an_overlong_line_is_refused_without_reading_it_whole(engine: Engine) -> None:
    """read_lines hands over at most MAX_LINE_BYTES + 1 bytes of a line; it is refused."""
    first = json.dumps(history("c-1", START)[0]).encode()
    handle = io.BytesIO(first + b"\n" + b"x" * (4 * MAX_LINE_BYTES) + b"\n")
    chunks = read_lines(handle)
    assert next(chunks) == first + b"\n"
    assert len(next(chunks)) == MAX_LINE_BYTES + 1
    refusal = rejected(engine, list(read_lines(io.BytesIO(handle.getvalue()))))
    assert (refusal.line, refusal.message) == (2, f"line 2: longer than {MAX_LINE_BYTES:,} bytes")


def test_non_utf8_bytes_and_lone_surrogates_are_no_text(engine: Engine) -> None:
    """A line that is not UTF-8, or JSON escaping half a surrogate pair, is refused."""
    good = json.dumps(line(START, VT, "OpenCase", case_id="c-1", via="melding")).encode()
    surrogate = good.replace(b'"melding"}', b'"melding", "summary": "\\ud800"}')
    for bad, says in ((good[:20] + b"\xff" + good[20:], "not UTF-8"), (surrogate, "surrogate")):
        refusal = rejected(engine, [bad])
        assert refusal.line == 1
        assert says in refusal.message
    assert case_records(engine) == 0


def test_a_batch_is_one_append_per_case(clock: ManualClock) -> None:
    """Each batch appends each of its cases once, from sequence 0, with all its records."""
    seen: list[list[tuple[str, int, int]]] = []

    class Recording(InMemoryEventStore):
        def append_batch(self, appends: list[Append]) -> None:
            if of_cases(appends):
                seen.append([(a.case_id, a.expected_sequence, len(a.records)) for a in appends])
            super().append_batch(appends)

    imported(engine_over(Recording(), clock), region(3, START), batch_size=16)
    assert seen == [
        [("c-imp-00000", 0, 15), ("c-imp-00001", 0, 15)],
        [("c-imp-00002", 0, 15)],
    ]
