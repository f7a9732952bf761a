"""Bulk import of case histories from another system, as JSON Lines (docs/import.md).

Each line is one command as it happened::

    {"at": "2026-03-02T09:00:00+00:00", "actor": "u-vt-01@vt-ijsselland:professional",
     "command": "OpenCase", "fields": {"case_id": "c-0001", "via": "melding"}}

(``schemas/import-line.schema.json``). Validate first, then write: every line is parsed,
validated, authorised for its actor and decided by the domain at its time, in file order,
in memory; only a file accepted whole is written. The first bad line refuses the file with
one :class:`ImportRejected` naming the line, the field, the error class and the rule, never
a value (values may be personal data); nothing is written.

Cases are written whole, several to a transaction (about ``batch_size`` commands), so a
crash mid-import leaves every case either complete or absent. Running the import again with
``resume`` skips the cases stored with exactly the file's history and writes the rest; a
case stored with any other history refuses the file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import IO, Any, overload

import structlog
from pydantic import ValidationError

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.domain.case import CaseState, apply
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.decisions import decide, open_case
from phasedcare.domain.events import DomainEvent
from phasedcare.domain.obligations import Obligation, track
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.errors import InvalidInput, NotAuthorised, NotFound, PhasedCareError, Refused
from phasedcare.ledger.chain import GENESIS
from phasedcare.ledger.records import StoredEvent
from phasedcare.service.access import CASELOAD, AccessLog, refusal_detail
from phasedcare.service.authorisation import authorise_command, known_actor
from phasedcare.service.ports import Append, EventStore

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MAX_LINE_BYTES",
    "ImportLine",
    "ImportRejected",
    "ImportReport",
    "Importer",
    "import_line_schema",
    "parse_line",
    "read_lines",
]

DEFAULT_BATCH_SIZE = 500
"""Commands per transaction, about: a batch holds whole cases and closes once it has this many."""

MAX_LINE_BYTES = 256 * 1024
"""The longest line accepted (the HTTP API's body limit): longer ones refuse the file."""

COMMANDS: dict[str, type[cmd.Command]] = {c.__name__: c for c in cmd.COMMAND_TYPES}
_LINE_KEYS = ("at", "actor", "command", "fields")
_ACTOR_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}@[a-z0-9][a-z0-9._-]{0,62}:(" + "|".join(Role) + ")$"

Recorder = Callable[[CaseState, Sequence[list[DomainEvent]], bytes], Append]
"""Applies decided commands to a case and returns the append recording them (the engine's)."""


class ImportRejected(InvalidInput):
    """An import file refused at its first bad line; nothing was written.

    Attributes:
        line: the 1-based line number (None when the file as a whole is wrong, e.g. empty).
        field: the part of the line at fault (``at``, ``actor``, ``fields.role``, ...).
        cause: the error class behind it (``InvalidInput``, ``NotAuthorised``, ``Refused``, ...).
        rule: the rule that refused it, when there is one (``has_agreed_plan``, ``time_order``).
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None,
        field: str | None = None,
        cause: str = "InvalidInput",
        rule: str | None = None,
    ) -> None:
        where = "import file" if line is None else f"line {line}"
        super().__init__(f"{where}: {message}", field=field)
        self.line = line
        self.cause = cause
        self.rule = rule

    @property
    def detail(self) -> str:
        """What the access log keeps: the line, the error class and the rule (no values)."""
        rule = f":{self.rule}" if self.rule else ""
        return f"line={self.line or 0} {self.cause}{rule}"


@dataclass(frozen=True, slots=True)
class ImportLine:
    """One validated line: when, who, and the command."""

    number: int
    at: datetime
    actor: Actor
    command: cmd.Command

    @property
    def case_id(self) -> str:
        """The case the line is about (OpenCase lines always name theirs)."""
        case_id = getattr(self.command, "case_id", None)
        assert case_id is not None  # noqa: S101 - parse_line requires it
        return str(case_id)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    lines: int
    cases: int
    events: int
    skipped_cases: int
    batches: int
    seconds: float
    dry_run: bool

    @property
    def events_per_second(self) -> float:
        """Events decided and written per second of the whole run."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


# -- reading and validating lines -------------------------------------------------------------


def read_lines(handle: IO[bytes], *, limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The lines of a binary file, never reading more than ``limit + 1`` bytes of one line.

    An overlong line comes back cut at ``limit + 1`` bytes, so that :func:`parse_line`
    refuses it without the rest being read into memory.
    """
    while line := handle.readline(limit + 1):
        yield line


def parse_line(number: int, raw: bytes | str, *, now: datetime) -> ImportLine | None:
    """Validate one line (None for a blank one); raise ImportRejected naming what is wrong."""
    text = _text(number, raw)
    if not text.strip():
        return None
    document = _document(number, text)
    return ImportLine(
        number=number,
        at=_at(number, document["at"], now),
        actor=_actor(number, document["actor"]),
        command=_command(number, document["command"], document["fields"]),
    )


def _text(number: int, raw: bytes | str) -> str:
    """The line as text: at most MAX_LINE_BYTES of UTF-8 (a BOM on line 1 is dropped)."""
    try:
        encoded = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        if len(encoded) > MAX_LINE_BYTES:
            msg = f"longer than {MAX_LINE_BYTES:,} bytes"
            raise ImportRejected(msg, line=number, field="line")
        text = raw if isinstance(raw, str) else raw.decode("utf-8")
    except UnicodeError as exc:
        position = getattr(exc, "start", 0) + 1
        msg = f"not UTF-8 text (at {'byte' if isinstance(raw, bytes) else 'character'} {position})"
        raise ImportRejected(msg, line=number, field="line") from None
    return text.removeprefix("\ufeff") if number == 1 else text


class _NotJson(ValueError):
    """JSON that Python's parser accepts and an import refuses (repeated keys, NaN)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        msg = "a key appears twice in one object"
        raise _NotJson(msg)
    return document


def _no_constant(_: str) -> Any:
    msg = "NaN and Infinity are not JSON"
    raise _NotJson(msg)


def _json(number: int, text: str) -> Any:
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        if "\\u" in text:  # an escape may spell half of a surrogate pair, which is no text
            json.dumps(document, ensure_ascii=False).encode("utf-8")
    except _NotJson as exc:
        raise ImportRejected(f"not valid JSON: {exc}", line=number, field="line") from None
    except json.JSONDecodeError as exc:
        msg = f"not valid JSON ({exc.msg} at column {exc.colno})"
        raise ImportRejected(msg, line=number, field="line") from None
    except UnicodeEncodeError:
        msg = "not valid JSON: a string holds an unpaired surrogate escape"
        raise ImportRejected(msg, line=number, field="line") from None
    except (ValueError, RecursionError):  # an integer too long, nesting too deep
        raise ImportRejected("not valid JSON", line=number, field="line") from None
    return document


def _document(number: int, text: str) -> dict[str, Any]:
    document = _json(number, text)
    expected = ", ".join(_LINE_KEYS)
    if not isinstance(document, dict):
        raise ImportRejected(f"a line is a JSON object with {expected}", line=number)
    if set(document) - set(_LINE_KEYS):
        raise ImportRejected(f"an unknown key; a line has {expected}", line=number)
    for key in _LINE_KEYS:
        if key not in document:
            raise ImportRejected(f"{key} is missing", line=number, field=key)
    return document


def _at(number: int, value: Any, now: datetime) -> datetime:
    def rejected(message: str, rule: str | None = None) -> ImportRejected:
        return ImportRejected(message, line=number, field="at", rule=rule)

    if not isinstance(value, str):
        raise rejected("at is not an ISO 8601 date and time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise rejected("at is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise rejected("at has no timezone (add one, e.g. +01:00 or Z)", "aware_time")
    if moment > now:
        raise rejected("at lies in the future", "not_in_future")
    return moment.astimezone(UTC)


def _actor(number: int, value: Any) -> Actor:
    msg = "actor is not user@organisation:role (lowercase ids; professional or system)"
    if not isinstance(value, str):
        raise ImportRejected(msg, line=number, field="actor")
    try:
        return Actor.parse(value)
    except ValueError:  # its message repeats the text
        raise ImportRejected(msg, line=number, field="actor") from None


def _command(number: int, name: Any, fields: Any) -> cmd.Command:
    command_type = COMMANDS.get(name) if isinstance(name, str) else None
    if command_type is None:
        msg = "command is not one of phasedcare's commands (schemas/import-line.schema.json)"
        raise ImportRejected(msg, line=number, field="command")
    if not isinstance(fields, dict):
        raise ImportRejected("fields is not a JSON object", line=number, field="fields")
    if command_type is cmd.OpenCase and fields.get("case_id") is None:
        msg = "OpenCase needs case_id in an import file (later lines refer to it)"
        raise ImportRejected(msg, line=number, field="fields.case_id")
    try:
        return command_type.model_validate(fields)
    except ValidationError as exc:
        raise _invalid_fields(number, command_type, exc) from None


def _invalid_fields(
    number: int, command_type: type[cmd.Command], exc: ValidationError
) -> ImportRejected:
    """The first validation error, naming the field but never the value (nor unknown keys)."""
    name = command_type.__name__
    error = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    loc = error["loc"]
    if error["type"] == "extra_forbidden":
        known = ", ".join(command_type.model_fields)
        msg = f"fields: an unknown field; {name} takes {known}"
        return ImportRejected(msg, line=number, field="fields")
    parts = [
        str(part) if isinstance(part, int) or depth == 0 else "<key>"
        for depth, part in enumerate(loc)
    ]
    where = ".".join(["fields", *parts])
    if error["type"] == "missing":
        return ImportRejected(f"{name}: {where} is missing", line=number, field=where)
    return ImportRejected(f"{name}: {where}: {error['msg']}", line=number, field=where)


# -- the import ------------------------------------------------------------------------------


@dataclass
class _PlannedCase:
    """One case of the file: where it opens, and each of its commands' decided events."""

    case_id: str
    opened_on: int
    decisions: list[list[DomainEvent]] = field(default_factory=list)
    stored: bool = False  # resume: the store holds the case already

    @property
    def commands(self) -> int:
        return len(self.decisions)

    @property
    def events(self) -> list[DomainEvent]:
        return [event for decided in self.decisions for event in decided]


class _OpenObligations(Sequence[Obligation]):
    """A planned case's open obligations before its next command, folded from its decided
    events only when a decision reads them (a closure, an escalation, a waiver): folding
    obligations costs far more than the state, and most commands never look."""

    def __init__(
        self, planned: _PlannedCase, policy: RegionalPolicy, calendar: WorkingDayCalendar
    ) -> None:
        self._planned, self._decided = planned, len(planned.decisions)
        self._policy, self._calendar = policy, calendar

    @cached_property
    def _open(self) -> tuple[Obligation, ...]:
        decided = self._planned.decisions[: self._decided]
        events = [event for decision in decided for event in decision]
        case_id = self._planned.case_id
        return tuple(track(case_id, events, self._policy, self._calendar)[1].open)

    @overload
    def __getitem__(self, index: int) -> Obligation: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Obligation]: ...
    def __getitem__(self, index: int | slice) -> Obligation | Sequence[Obligation]:
        return self._open[index]

    def __len__(self) -> int:
        return len(self._open)


@dataclass
class _Plan:
    """The whole file decided: its cases in order of opening, and the case states so far."""

    lines: int = 0
    cases: dict[str, _PlannedCase] = field(default_factory=dict)
    states: dict[str, CaseState] = field(default_factory=dict)

    @property
    def new(self) -> list[_PlannedCase]:
        """The cases to write: all but those stored already (resume)."""
        return [planned for planned in self.cases.values() if not planned.stored]

    @property
    def counts(self) -> str:
        """What the access log keeps of an accepted file: counts only."""
        new = self.new
        events = sum(len(planned.events) for planned in new)
        skipped = len(self.cases) - len(new)
        return f"lines={self.lines} cases={len(new)} events={events} skipped={skipped}"


def _batches(cases: Sequence[_PlannedCase], size: int) -> Iterator[list[_PlannedCase]]:
    """Whole cases in order, a batch closing once it holds ``size`` commands or more."""
    batch: list[_PlannedCase] = []
    commands = 0
    for planned in cases:
        batch.append(planned)
        commands += planned.commands
        if commands >= size:
            yield batch
            batch, commands = [], 0
    if batch:
        yield batch


class Importer:
    """Imports JSON Lines files of case histories through one engine's rules and store."""

    def __init__(
        self,
        *,
        store: EventStore,
        policy: RegionalPolicy,
        calendar: WorkingDayCalendar,
        clock: Callable[[], datetime],
        access: AccessLog,
        recorded: Recorder,
        decode: Callable[[Sequence[StoredEvent]], list[DomainEvent]],
        create_keys: Callable[[Sequence[str]], None],
        written: Callable[[], None] | None = None,
    ) -> None:
        """The engine's parts: ``recorded`` turns decisions into an append, ``decode`` opens
        stored records (for ``resume``), ``create_keys`` stores a batch's data keys in one
        transaction, ``written`` is told after the last batch (the auditor schedules a
        checkpoint)."""
        self._store = store
        self._policy = policy
        self._calendar = calendar
        self._clock = clock
        self._access = access
        self._recorded = recorded
        self._decode = decode
        self._create_keys = create_keys
        self._written = written
        self._log = structlog.get_logger("phasedcare.import")

    def run(
        self,
        lines: Iterable[bytes | str],
        *,
        actor: Actor,
        batch_size: int = DEFAULT_BATCH_SIZE,
        dry_run: bool = False,
        resume: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        """Validate and decide every line, then write the new cases in batches.

        ``progress(events written, events to write)`` is called after each batch.

        Raises:
            NotAuthorised: ``actor`` is not Veilig Thuis of the region (professional or
                system); logged as denied.
            ImportRejected: a line is bad; logged as refused, nothing is written.
            ConcurrencyConflict, StoreError: a batch failed; earlier batches stay written
                (whole cases), and ``resume`` finishes the import.
        """
        started = time.perf_counter()
        if batch_size < 1:
            raise InvalidInput("the batch size must be at least 1", field="batch_size")
        self._authorise(actor)
        query = "import_dry_run" if dry_run else "import"
        plan = self._accepted(lines, actor=actor, query=query, resume=resume)
        new = plan.new
        batches = 0 if dry_run else self._write(new, batch_size, progress)
        report = ImportReport(
            lines=plan.lines,
            cases=len(new),
            events=sum(len(planned.events) for planned in new),
            skipped_cases=len(plan.cases) - len(new),
            batches=batches,
            seconds=time.perf_counter() - started,
            dry_run=dry_run,
        )
        self._log.info(query, organisation=actor.organisation, **asdict(report))
        return report

    def _accepted(
        self, lines: Iterable[bytes | str], *, actor: Actor, query: str, resume: bool
    ) -> _Plan:
        """The file decided whole, and logged (accepted or refused) before anything is written."""
        try:
            plan = self._plan(lines, resume=resume)
        except ImportRejected as exc:
            self._refused(actor, query, exc)
            raise
        self._access.record(
            actor,
            CASELOAD,
            action="import",
            query=query,
            outcome="allowed",
            basis="veilig_thuis",
            detail=plan.counts,
        )
        return plan

    def _authorise(self, actor: Actor) -> None:
        """Only Veilig Thuis of the region imports, as a professional or the system."""
        try:
            known_actor(actor, self._policy)
            is_vt = actor.organisation == self._policy.veilig_thuis.id
            if not is_vt or actor.role not in {Role.professional, Role.system}:
                msg = f"{actor} is not authorised: imports are run by Veilig Thuis of the region"
                raise NotAuthorised(msg, actor=str(actor))
        except NotAuthorised as exc:
            self._access.record(
                actor,
                CASELOAD,
                action="import",
                query="import",
                outcome="denied",
                detail=refusal_detail(exc),
            )
            raise

    def _refused(self, actor: Actor, query: str, exc: ImportRejected) -> None:
        self._access.record(
            actor, CASELOAD, action="import", query=query, outcome="refused", detail=exc.detail
        )
        self._log.info(
            "import refused",
            organisation=actor.organisation,
            line=exc.line,
            field=exc.field,
            error=exc.cause,
            rule=exc.rule,
        )

    # -- deciding, in memory ---------------------------------------------------------------

    def _plan(self, lines: Iterable[bytes | str], *, resume: bool) -> _Plan:
        plan = _Plan()
        now = self._clock()
        for number, raw in enumerate(lines, start=1):
            line = parse_line(number, raw, now=now)
            if line is not None:
                plan.lines += 1
                self._decide(line, plan, resume=resume)
        if plan.lines == 0:
            raise ImportRejected("the file holds no lines to import", line=None)
        for planned in plan.cases.values():
            if planned.stored:
                self._check_stored(planned)
        plan.states.clear()  # the write folds each case afresh
        return plan

    def _decide(self, line: ImportLine, plan: _Plan, *, resume: bool) -> None:
        """Decide one line on its case's state so far; a refusal becomes ImportRejected."""
        ctx = DecisionContext(
            now=line.at, actor=line.actor, policy=self._policy, calendar=self._calendar
        )
        try:
            if isinstance(line.command, cmd.OpenCase):
                planned = self._open(line, plan, resume=resume)
                state = plan.states[planned.case_id]
                events = open_case(planned.case_id, line.command, ctx)
            else:
                assert isinstance(line.command, cmd.CaseCommand)  # noqa: S101 - all others are
                planned, state = self._case_of(line, plan)
                ctx = replace(
                    ctx, open_obligations=_OpenObligations(planned, self._policy, self._calendar)
                )
                authorise_command(
                    line.actor,
                    line.command,
                    state,
                    self._policy,
                    open_obligations=ctx.open_obligations,
                )
                events = decide(state, line.command, ctx)
        except ImportRejected:
            raise
        except PhasedCareError as exc:
            raise _rejection(line, exc) from None
        for event in events:
            apply(state, event)
        planned.decisions.append(events)

    def _open(self, line: ImportLine, plan: _Plan, *, resume: bool) -> _PlannedCase:
        case_id = line.case_id
        authorise_command(line.actor, line.command, None, self._policy)
        if case_id in plan.cases:
            first = plan.cases[case_id].opened_on
            msg = f"case {case_id} is opened twice in the file (first on line {first})"
            raise Refused(msg, case_id=case_id, rule="case_exists")
        stored = self._store.head(case_id) is not None
        if stored and not resume:
            msg = f"case {case_id} exists already (resume finishes an interrupted import)"
            raise Refused(msg, case_id=case_id, rule="case_exists")
        planned = _PlannedCase(case_id=case_id, opened_on=line.number, stored=stored)
        plan.cases[case_id] = planned
        plan.states[case_id] = CaseState(case_id=case_id)
        return planned

    def _case_of(self, line: ImportLine, plan: _Plan) -> tuple[_PlannedCase, CaseState]:
        case_id = line.case_id
        if case_id not in plan.cases:
            if self._store.head(case_id) is not None:
                msg = f"case {case_id} exists already: a file holds whole histories, from OpenCase"
                raise Refused(msg, case_id=case_id, rule="case_exists")
            msg = f"case {case_id} is not opened on an earlier line"
            raise NotFound(msg, kind="case", ident=case_id)
        state = plan.states[case_id]
        if state.updated_at is not None and line.at < state.updated_at:
            msg = f"at is earlier than the previous line of case {case_id}"
            raise ImportRejected(msg, line=line.number, field="at", rule="time_order")
        return plan.cases[case_id], state

    def _check_stored(self, planned: _PlannedCase) -> None:
        """Resume: a stored case must hold exactly the file's history, else the file is refused."""
        try:
            same = self._decode(self._store.load(planned.case_id)) == planned.events
        except PhasedCareError:  # erased, or a record that does not open
            same = False
        if not same:
            msg = f"case {planned.case_id} exists with another history than the file's"
            raise ImportRejected(
                msg,
                line=planned.opened_on,
                field="fields.case_id",
                cause="Refused",
                rule="case_exists",
            )

    # -- writing ---------------------------------------------------------------------------

    def _write(
        self,
        cases: Sequence[_PlannedCase],
        batch_size: int,
        progress: Callable[[int, int], None] | None,
    ) -> int:
        """Append the cases in batches, one transaction each; returns how many batches."""
        total = sum(len(planned.events) for planned in cases)
        batches = written = 0
        for batch in _batches(cases, batch_size):
            self._create_keys([planned.case_id for planned in batch])
            self._store.append_batch([self._append_of(planned) for planned in batch])
            batches += 1
            written += sum(len(planned.events) for planned in batch)
            if progress is not None:
                progress(written, total)
        if batches and self._written is not None:
            self._written()
        return batches

    def _append_of(self, planned: _PlannedCase) -> Append:
        """The whole case as one append, through the engine's own recording."""
        return self._recorded(CaseState(case_id=planned.case_id), planned.decisions, GENESIS)


def _rejection(line: ImportLine, exc: PhasedCareError) -> ImportRejected:
    """A refusal of the line's command, as the file's refusal naming the line."""
    cause = type(exc).__name__
    rule = getattr(exc, "rule", None)
    field_name = getattr(exc, "field", None)
    label = f"{cause}:{rule}" if rule else cause
    return ImportRejected(
        f"{type(line.command).__name__} refused ({label}): {exc.message}",
        line=line.number,
        field=f"fields.{field_name}" if field_name else None,
        cause=cause,
        rule=rule,
    )


# -- the published contract ------------------------------------------------------------------


def import_line_schema() -> dict[str, Any]:
    """The JSON Schema of one line of an import file, with each command's fields by $ref."""
    branches = [
        {
            "if": {"properties": {"command": {"const": name}}},
            "then": {"properties": {"fields": _fields_schema(name)}},
        }
        for name in COMMANDS
    ]
    return {
        "title": "ImportLine",
        "description": "One line of a phasedcare import file (JSON Lines): a command as it "
        "happened, when and by whom. OpenCase lines must name their case_id.",
        "type": "object",
        "additionalProperties": False,
        "required": list(_LINE_KEYS),
        "properties": {
            "at": {
                "type": "string",
                "format": "date-time",
                "description": "When the command happened, with a timezone; never later "
                "than the import, never earlier than the case's previous line.",
            },
            "actor": {
                "type": "string",
                "pattern": _ACTOR_PATTERN,
                "description": "Who issued it, as user@organisation:role.",
            },
            "command": {"enum": list(COMMANDS), "description": "The command's class name."},
            "fields": {"type": "object", "description": "The command's fields."},
        },
        "allOf": branches,
    }


def _fields_schema(name: str) -> dict[str, Any]:
    reference = {"$ref": f"commands/{name}.schema.json"}  # beside import-line.schema.json
    if name != cmd.OpenCase.__name__:
        return reference
    return {
        "allOf": [
            reference,
            {"required": ["case_id"], "properties": {"case_id": {"type": "string"}}},
        ]
    }
