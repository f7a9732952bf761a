"""Bad input at every boundary a user hits: refused with one clear, typed error that names the
field or the rule, echoes no free text, and leaves the store as it was.

Commands go in through ``make_command``, the Engine's command methods, ``Engine.handle`` and
the HTTP API, over the in-memory store and a SQLite file; policy files through
``parse_policy`` and the CLI; settings through ``load_settings``. Free text carries canary
names (``bad_input_strategies.CANARIES``) that no error, problem body or log line may carry.
A refused command may add exactly one entry to the access log (NEN 7513 logs refusals) and
nothing else.

The default run (``HYPOTHESIS_PROFILE=ci``: 60 examples a property) takes about 35 s on two
cores::

    HYPOTHESIS_PROFILE=ci .venv/bin/pytest tests/reliability/test_bad_input.py

The soak (2,000 examples a property)::

    HYPOTHESIS_PROFILE=soak .venv/bin/pytest tests/reliability/test_bad_input.py

The gaps it found (a 500 for an If-Match too long for an int, a mapping key and an unknown
event repeated back, a policy file that is not UTF-8 crashing the CLI) are fixed; the tests
that found them stay.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from bad_input_strategies import (
    BIRTH_DATE,
    CANARIES,
    ROUTED,
    VEILIG_THUIS,
    Attempt,
    PolicyDocument,
    bad_policy_documents,
    bad_settings_files,
    mutated_commands,
    refused_commands,
    route_of,
    wrong_values,
)
from fastapi.testclient import TestClient
from hypothesis import assume, event, given
from hypothesis import strategies as st
from structlog.testing import capture_logs
from typer.testing import CliRunner

from harness import Harness
from phasedcare.api import create_app
from phasedcare.cli.app import app as cli_app
from phasedcare.config import load_settings
from phasedcare.domain import commands as cmd
from phasedcare.domain import events as ev
from phasedcare.domain.actors import Actor
from phasedcare.domain.policy import default_policy, default_policy_text, parse_policy
from phasedcare.errors import (
    ConcurrencyConflict,
    InvalidInput,
    NotAuthorised,
    NotFound,
    PhasedCareError,
    PolicyError,
    Refused,
)
from phasedcare.ledger.blind_index import BlindIndex
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, InMemoryKeyProvider
from phasedcare.ledger.records import StoredEvent
from phasedcare.service.engine import Engine
from phasedcare.service.ports import CaseFilter, DeadlineFilter, EventStore, HandoverFilter
from phasedcare.store.memory import InMemoryEventStore
from phasedcare.store.sql import SqlEventStore
from phasedcare.testing import ManualClock
from support import Journey

SECRETS = (*CANARIES, BIRTH_DATE.isoformat())
"""What a refusal must never repeat: the canary names and the synthetic date of birth."""

TYPED = (InvalidInput, NotFound, Refused, NotAuthorised, ConcurrencyConflict)


# -- the world: one case in directe veiligheid, over memory or a SQLite file ------------------


@dataclass
class World:
    """An engine whose codec the harness holds (to read access entries), and its case."""

    engine: Engine
    codec: RecordCodec
    case_id: str
    refused_events: list[tuple[str, str]]

    @property
    def store(self) -> EventStore:
        """The engine's store."""
        return self.engine.store

    @property
    def sequence(self) -> int:
        """The case's last sequence."""
        head = self.store.head(self.case_id)
        assert head is not None
        return head[0]


def _engine(store: EventStore, clock: ManualClock) -> tuple[Engine, RecordCodec]:
    """An engine without an auditor, so no checkpoint timer writes while a test compares."""
    codec = RecordCodec(keys=CaseKeys(store, InMemoryKeyProvider()))
    engine = Engine(
        store=store,
        policy=default_policy(),
        codec=codec,
        clock=clock,
        blind_index=BlindIndex.generate(),
    )
    return engine, codec


@pytest.fixture(params=["memory", "sqlite"])
def world(request: pytest.FixtureRequest, clock: ManualClock, wijkteam: Actor) -> Iterator[World]:
    """A case in directe veiligheid (members, conditions c1 and c2, a risk assessment)."""
    if request.param == "memory":
        store: EventStore = InMemoryEventStore()
    else:
        store = SqlEventStore(request.getfixturevalue("sqlite_url"))
    engine, codec = _engine(store, clock)
    case_id = Journey(engine, clock, VEILIG_THUIS, wijkteam).in_directe_veiligheid().case_id
    yield World(engine, codec, case_id, _refused_events(engine, case_id))
    engine.close()


def _refused_events(engine: Engine, case_id: str) -> list[tuple[str, str]]:
    """The chart events the case refuses now (asked once, before any comparison)."""
    views = engine.allowed(case_id, actor=VEILIG_THUIS)
    return [(view.chart, view.event) for view in views if not view.allowed]


# -- what "nothing written" means -------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Everything a command can write, with the access log apart."""

    ledger: list[StoredEvent]
    access: list[StoredEvent]
    read_models: tuple[Any, ...]


def snapshot(store: EventStore) -> Snapshot:
    """The store's records, projections, deadline and handover rows, outbox and deliveries."""
    records = list(store.read_all())
    return Snapshot(
        ledger=[r for r in records if not r.header.case_id.endswith("~access")],
        access=[r for r in records if r.header.case_id.endswith("~access")],
        read_models=(
            store.projections(CaseFilter()),
            store.deadline_rows(DeadlineFilter()),
            store.handover_rows(HandoverFilter()),
            store.messages(),
            store.deliveries(),
        ),
    )


def new_access_entries(world: World, before: Snapshot) -> list[ev.AccessRecorded]:
    """The access entries written since ``before``; everything else must be unchanged."""
    after = snapshot(world.store)
    assert after.ledger == before.ledger
    assert after.read_models == before.read_models
    assert after.access[: len(before.access)] == before.access
    entries = world.codec.decode(after.access[len(before.access) :])
    assert all(isinstance(e, ev.AccessRecorded) for e in entries)
    return [e for e in entries if isinstance(e, ev.AccessRecorded)]


def assert_one_refusal_entry(world: World, before: Snapshot, error: PhasedCareError) -> None:
    """Exactly one access entry was added: this refused command, with its error class."""
    [entry] = new_access_entries(world, before)
    assert (entry.action, entry.outcome) == ("command", "refused")
    assert entry.detail.startswith(type(error).__name__)


# -- what "a clear error" means ------------------------------------------------------------------


def leaked(text: str) -> list[str]:
    """The secrets (canary names, the date of birth) found in ``text``."""
    return [secret for secret in SECRETS if secret in text]


def _explains(error: PhasedCareError) -> bool:
    """The error names the field, the rule, the thing not found, or who may not act."""
    if isinstance(error, InvalidInput):
        return bool(error.field)
    if isinstance(error, Refused):
        return bool(error.rule)
    if isinstance(error, NotFound):
        return error.ident in error.message and bool(error.kind)
    if isinstance(error, NotAuthorised):
        return "not authorised" in error.message
    return isinstance(error, ConcurrencyConflict) and "expected sequence" in error.message


def assert_clear(error: Exception, logs: list[dict[str, Any]]) -> PhasedCareError:
    """One of phasedcare's typed errors, explaining itself, repeating no free text."""
    assert isinstance(error, TYPED), repr(error)
    assert error.message.strip()
    assert _explains(error), error.message
    assert leaked(error.message) == []
    assert leaked(repr(vars(error))) == []
    assert leaked(repr(logs)) == []
    return error


def refusal(run: Callable[[], object]) -> tuple[PhasedCareError, list[dict[str, Any]]]:
    """Run ``run`` expecting a refusal; the error and the log lines written meanwhile."""
    with capture_logs() as logs:
        try:
            run()
        except Exception as exc:  # whatever escapes is judged by assert_clear
            return assert_clear(exc, logs), logs
    pytest.fail("the bad input was accepted")


# -- the command layer ---------------------------------------------------------------------------


def test_make_command_refuses_every_mutation_naming_the_field(harness: Harness) -> None:
    """A wrong, missing, unknown or too long field is one InvalidInput naming that field."""

    @given(attempt=mutated_commands("c-0123456789abcdef"))
    def check(attempt: Attempt) -> None:
        error, _ = refusal(lambda: cmd_from(attempt))
        assert isinstance(error, InvalidInput)
        assert error.field is not None
        assert error.field.split(".")[0] == attempt.field
        assert error.message.startswith(error.field) or attempt.field in error.message
        harness.count("bad input: commands refused")

    check()


def cmd_from(attempt: Attempt) -> cmd.Command:
    """The attempt through the one door loose input takes."""
    from phasedcare.service.validation import make_command  # noqa: PLC0415 - the unit under test

    return make_command(attempt.command_type, **attempt.fields)


def test_a_mapping_key_is_never_repeated_back() -> None:
    """A risk assessment's item names are data: an error marks the place of a bad item, ``*``."""
    attempt = Attempt(
        cmd.RecordRiskAssessment,
        {
            "case_id": "c-1",
            "instrument": "VT-triage",
            "instrument_version": "2023",
            "level": "hoog",
            "assessed_on": "2026-03-02",
            "items": {CANARIES[0]: 5},
        },
        "items",
    )
    error, _ = refusal(lambda: cmd_from(attempt))
    assert error.message == "items.*: Input should be a valid string"


_METHOD_NAMES = {cmd.FireEvent: "fire"}


def method_name(command_type: type[cmd.Command]) -> str:
    """The name of the Engine's keyword-only method for a command type."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", command_type.__name__).lower()
    return _METHOD_NAMES.get(command_type, snake)


def has_method(command_type: type[cmd.Command]) -> bool:
    """Whether the Engine has a method for the command (the sweeps' commands have none)."""
    return hasattr(Engine, method_name(command_type))


def call_method(engine: Engine, attempt: Attempt) -> Callable[[], object]:
    """The attempt as a call of the Engine's command method."""
    method = getattr(engine, method_name(attempt.command_type))
    fields = dict(attempt.fields)
    if issubclass(attempt.command_type, cmd.CaseCommand):
        case_id = fields.pop("case_id")
        return lambda: method(case_id, actor=VEILIG_THUIS, **fields)
    return lambda: method(actor=VEILIG_THUIS, **fields)


def test_every_command_method_is_found() -> None:
    """The harness reaches 24 commands through methods; the rest only through handle."""
    found = [t for t in cmd.COMMAND_TYPES if has_method(t)]
    assert len(found) == 24
    assert cmd.SignalMda not in found


def test_the_command_methods_refuse_wrong_values_and_write_nothing(
    world: World, harness: Harness
) -> None:
    """A method called with a wrong value raises InvalidInput before anything is written, not
    even an access entry (the command never reached the engine)."""
    engine = world.engine

    @given(attempt=wrong_values(world.case_id))
    def check(attempt: Attempt) -> None:
        assume(has_method(attempt.command_type))
        assume(attempt.field != "items" or attempt.fields["items"])  # falsy items mean {}
        before = snapshot(world.store)
        error, _ = refusal(call_method(engine, attempt))
        # a well-typed received_at far in the past is refused by the rules, not as bad input:
        # it reached the engine, so its refusal is logged (and nothing else is written)
        by_the_rules = attempt.field == "received_at" and isinstance(error, Refused)
        assert isinstance(error, InvalidInput) or by_the_rules, (attempt.field, error)
        logged = new_access_entries(world, before)
        assert [e.outcome for e in logged] == (["refused"] if by_the_rules else []), logged
        harness.count("bad input: commands refused")

    check()


def test_the_engine_refuses_valid_commands_it_must_not_take(world: World, harness: Harness) -> None:
    """Unknown cases, outsiders, the system, refused dates, stale versions and the wrong
    state: a typed refusal, one access entry, nothing else written."""
    strategy = refused_commands(
        world.case_id, sequence=world.sequence, refused_events=world.refused_events
    )

    @given(attempt=strategy)
    def check(attempt: Attempt) -> None:
        assert attempt.actor is not None
        command = attempt.build()
        before = snapshot(world.store)
        error, _ = refusal(
            lambda: world.engine.handle(
                command, actor=attempt.actor, expected_sequence=attempt.expected_sequence
            )
        )
        assert_one_refusal_entry(world, before, error)
        event(type(error).__name__)
        harness.count("bad input: commands refused")

    check()


def test_the_refused_scenarios_include_every_chart_event_refused_now(world: World) -> None:
    """The case in directe veiligheid refuses some events of both charts; the harness fires them."""
    charts = {chart for chart, _ in world.refused_events}
    assert charts == {"phase", "vt"}
    assert ("phase", "naar_stabiele_veiligheid") in world.refused_events


# -- the HTTP API ------------------------------------------------------------------------------


def _authenticate(token: str) -> Actor:
    """The harness's bearer token is the actor itself (the engine still authorises it)."""
    return Actor.parse(token)


def bearer(actor: Actor) -> dict[str, str]:
    """The Authorization header that makes ``actor`` the caller."""
    return {"Authorization": f"Bearer {actor}"}


@dataclass(frozen=True)
class Request:
    """One HTTP request of the harness."""

    path: str
    headers: dict[str, str]
    body: bytes
    field: str | None = None


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def request_of(attempt: Attempt, *, field: bool = True) -> Request:
    """The attempt as a POST: its route, its actor's token, If-Match, the JSON body."""
    case_id = quote(str(attempt.fields.get("case_id", "")), safe="", errors="surrogatepass")
    headers = {**bearer(attempt.actor or VEILIG_THUIS), "Content-Type": "application/json"}
    if attempt.expected_sequence is not None:
        headers["If-Match"] = f'"{attempt.expected_sequence}"'
    return Request(
        route_of(attempt.command_type, case_id),
        headers,
        _json(attempt.body()),
        attempt.field if field else None,
    )


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(CANARIES),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)


_IF_MATCH = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
    st.sampled_from(['"-1"', '"1.5"', 'W/"x"', '"' + "9" * 40 + '"', "*, *"]),
)
"""If-Match values, well-formed or not (a refused command stays refused with any of them)."""


@st.composite
def random_bodies(draw: st.DrawFn, case_id: str) -> Request:
    """Any JSON (an object always with a field no command has), or bytes that are not JSON,
    to any command route, with any If-Match."""
    command_type = draw(st.sampled_from(ROUTED), label="route")
    body: Any = draw(_JSON, label="body")
    if isinstance(body, dict):
        body["kanarie_veld"] = draw(_JSON, label="unknown field's value")
    raw = draw(st.one_of(st.just(_json(body)), st.binary(max_size=20)), label="bytes")
    headers = {**bearer(VEILIG_THUIS), "Content-Type": "application/json"}
    if_match = draw(st.none() | _IF_MATCH, label="If-Match")
    if if_match is not None:
        headers["If-Match"] = if_match
    return Request(route_of(command_type, case_id), headers, raw)


def _with_if_match(request: Request, value: str) -> Request:
    return Request(request.path, {**request.headers, "If-Match": value}, request.body)


def http_requests(world: World) -> st.SearchStrategy[Request]:
    """Mutated commands, commands the engine refuses (with any If-Match), and random bodies,
    as POSTs."""
    refused = refused_commands(
        world.case_id, sequence=world.sequence, refused_events=world.refused_events
    )
    refused_requests = refused.filter(lambda a: a.command_type in ROUTED).map(
        lambda a: request_of(a, field=False)
    )
    return st.one_of(
        mutated_commands(world.case_id, types=ROUTED).map(request_of),
        refused_requests,
        st.builds(_with_if_match, refused_requests, _IF_MATCH),
        random_bodies(world.case_id),
    )


def assert_problem(response: Any, request: Request) -> dict[str, Any]:
    """A 4xx RFC 9457 problem that explains itself and repeats no free text."""
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert leaked(response.text) == []
    problem: dict[str, Any] = response.json()
    assert problem["status"] == response.status_code
    assert problem["title"]
    assert problem["detail"].strip()
    if response.status_code == 422:
        assert {"rule", "field", "errors"} & set(problem), problem
    if request.field is not None and response.status_code == 422:
        assert request.field in problem["detail"], (request.field, problem)
    return problem


def test_http_bad_requests_are_4xx_problems_and_write_at_most_a_refusal(
    world: World, client: TestClient, harness: Harness
) -> None:
    """Random and mutated bodies, outsiders, stale If-Match, the wrong state: a 4xx problem
    (never 500), the field or rule named, no free text echoed; at most one access entry."""

    @given(request=http_requests(world))
    def check(request: Request) -> None:
        before = snapshot(world.store)
        with capture_logs() as logs:
            response = client.post(request.path, content=request.body, headers=request.headers)
        problem = assert_problem(response, request)
        event(f"{response.status_code} {problem['title']}")
        assert leaked(repr(logs)) == []
        entries = new_access_entries(world, before)
        assert len(entries) <= 1
        assert all(e.outcome == "refused" for e in entries)
        harness.count("bad input: HTTP requests refused")

    check()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    """The HTTP API over the world's engine; a server error comes back as a 500 response."""
    app = create_app(world.engine, authenticate=_authenticate)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_an_if_match_too_long_for_an_int_is_a_problem(world: World, client: TestClient) -> None:
    """An ETag of 5,000 digits names no version of the case: a 4xx problem, nothing written."""
    body = {"role": "kind", "name": CANARIES[0]}
    headers = {**bearer(VEILIG_THUIS), "If-Match": '"' + "9" * 5000 + '"'}
    path = route_of(cmd.RecordMember, world.case_id)
    before = snapshot(world.store)
    response = client.post(path, json=body, headers=headers)
    assert_problem(response, Request(path, headers, _json(body)))
    assert new_access_entries(world, before) == []


def test_an_item_name_is_not_repeated_in_a_problem(world: World, client: TestClient) -> None:
    """A risk assessment item with a value that is not text: 422, the item's name not echoed."""
    body = {
        "instrument": "VT-triage",
        "instrument_version": "2023",
        "level": "hoog",
        "assessed_on": "2026-03-02",
        "items": {CANARIES[0]: 5},
    }
    path = route_of(cmd.RecordRiskAssessment, world.case_id)
    response = client.post(path, json=body, headers=bearer(VEILIG_THUIS))
    assert_problem(response, Request(path, {}, b""))


def test_an_unknown_event_is_not_repeated_in_its_refusal(world: World) -> None:
    """FireEvent with text that is no event of the chart: InvalidInput, the text not echoed."""
    refusal(lambda: world.engine.fire(world.case_id, CANARIES[0], actor=VEILIG_THUIS))


# -- policy files --------------------------------------------------------------------------------


def judge_policy(document: PolicyDocument) -> PolicyError | None:
    """Parse the document: a valid policy (None), or the one PolicyError, checked for clarity."""
    try:
        parse_policy(document.data, source="policy.yaml")
    except PolicyError as caught:
        error = caught
    else:
        return None
    assert "\n" not in error.message
    assert error.line is not None
    assert 1 <= error.line <= document.data.count(b"\n") + 1
    where = f"policy.yaml line {error.line}: " + (f"{error.field}: " if error.field else "")
    assert error.message.startswith(where)
    assert error.message.removeprefix(where).strip()
    return error


def test_a_mutated_policy_is_valid_or_one_policy_error_naming_its_key(harness: Harness) -> None:
    """Dropped keys, wrong types, negative and huge numbers, duplicate organisations, unknown
    keys, broken YAML and bytes that are not UTF-8: a valid policy or one PolicyError line."""

    @given(document=bad_policy_documents())
    def check(document: PolicyDocument) -> None:
        error = judge_policy(document)
        if document.expected_field is not None:
            assert error is not None, document.kind
            assert error.field == document.expected_field
        if error is not None:
            harness.count("bad input: policy files refused")

    check()


def test_a_policy_file_that_is_not_utf8_is_refused_at_its_line() -> None:
    """A Latin-1 byte on line 3 is one PolicyError at line 3, not a UnicodeDecodeError."""
    data = b'version: "2026.1"\nregion: ijsselland\nname: Regio IJsselland \xe9\n'
    error = judge_policy(PolicyDocument(data, None, "latin-1"))
    assert error is not None
    assert error.message == "policy.yaml line 3: not UTF-8 text: byte #xe9 cannot be read"


BROKEN_POLICIES = {
    "invalid YAML": default_policy_text().replace("deadlines:", "deadlines: [", 1).encode(),
    "negative duration": default_policy_text()
    .replace("onderzoek_weken: 10", "onderzoek_weken: -10", 1)
    .encode(),
    "unknown key": (default_policy_text() + "\nextra_sleutel: 1\n").encode(),
    "not UTF-8": default_policy_text().encode().replace(b"IJsselland", b"IJsselland \xff", 1),
}


@pytest.mark.parametrize(
    "kind",
    [
        "invalid YAML",
        "negative duration",
        "unknown key",
        "not UTF-8",
    ],
)
def test_the_cli_with_a_broken_policy_exits_2_with_one_line_and_writes_nothing(
    kind: str, tmp_path: Path, harness: Harness
) -> None:
    """``phasedcare case list`` over a home whose policy.yaml is broken: exit 2, one line on
    stderr naming the file, and the home exactly as it was (no database, no keys)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "policy.yaml").write_bytes(BROKEN_POLICIES[kind])
    before = {p.name: p.read_bytes() for p in home.iterdir()}
    env = {"PHASEDCARE_HOME": str(home), "PHASEDCARE_ACTOR": str(VEILIG_THUIS)}
    result = CliRunner().invoke(cli_app, ["case", "list"], env=env)
    assert result.exit_code == 2, result.exception
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {home / 'policy.yaml'} line ")
    assert result.stdout == ""
    assert {p.name: p.read_bytes() for p in home.iterdir()} == before
    harness.count("bad input: policy files refused")


# -- settings ------------------------------------------------------------------------------------


@pytest.fixture
def settings_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder named by PHASEDCARE_HOME, and no other PHASEDCARE_ variable."""
    monkeypatch.setenv("PHASEDCARE_HOME", str(tmp_path))
    return tmp_path


def test_a_broken_config_file_is_one_invalid_input(settings_home: Path, harness: Harness) -> None:
    """Invalid TOML, values of the wrong type, unknown keys, bytes that are not UTF-8: one
    InvalidInput naming the setting or the file, on one line."""

    @given(data=bad_settings_files())
    def check(data: bytes) -> None:
        (settings_home / "config.toml").write_bytes(data)
        with pytest.raises(InvalidInput) as caught:
            load_settings()
        error = caught.value
        assert error.field
        assert error.message.strip()
        assert "\n" not in error.message
        assert error.field == "config" or error.field in error.message
        harness.count("bad input: settings refused")

    check()


def test_a_config_file_that_is_not_utf8_names_the_file(settings_home: Path) -> None:
    """A Latin-1 byte in config.toml is refused as not UTF-8 text, naming the file."""
    (settings_home / "config.toml").write_bytes(b"log_level = 'w\xe9rning'\n")
    with pytest.raises(InvalidInput) as caught:
        load_settings()
    assert caught.value.message == (
        f"{settings_home / 'config.toml'}: not UTF-8 text (byte #xe9 at 14)"
    )
