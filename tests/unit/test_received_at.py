"""Received is when it was received: a melding registered later counts from the moment Veilig
Thuis received it, which the professional gives (Python API, HTTP, CLI); the record keeps
both moments, and a moment in the future or more than a year back is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs
from typer.testing import CliRunner

from phasedcare.api import create_app
from phasedcare.cli.app import app
from phasedcare.domain import events as ev
from phasedcare.domain.actors import Actor
from phasedcare.domain.case import CaseState, apply
from phasedcare.domain.policy import default_policy
from phasedcare.errors import InvalidInput, Refused
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock, actor_of
from support import Journey, token_table

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONDAY_MORNING = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam
FRIDAY_EVENING = datetime(2026, 3, 13, 19, 0, tzinfo=AMSTERDAM)  # 18:00 UTC


def _vb(engine: Engine, vt: Actor, case_id: str) -> tuple[date, str]:
    [deadline] = [
        d for d in engine.show(case_id, actor=vt).deadlines if d.kind == "veiligheidsbeoordeling"
    ]
    return deadline.due, deadline.description


def _first_details(engine: Engine, vt: Actor, case_id: str, event_type: str) -> dict[str, object]:
    entries = [e for e in engine.history(case_id, actor=vt) if e.event_type == event_type]
    return {"at": entries[-1].at, **entries[-1].details}


@pytest.fixture
def monday(clock: ManualClock) -> ManualClock:
    """The professional registers on Monday 16 March 2026 at 09:00."""
    clock.now = MONDAY_MORNING
    return clock


def test_a_melding_phoned_in_on_friday_evening_and_registered_on_monday_is_due_by_friday(
    engine: Engine, monday: ManualClock, vt: Actor
) -> None:
    """Received Friday 13 March 19:00, typed in on Monday: the veiligheidsbeoordeling is due 5
    werkdagen after Friday (Friday 20 March), not after Monday (Monday 23 March)."""
    case_id = engine.open_case(
        actor=vt, via="melding", melder_kind="politie", received_at=FRIDAY_EVENING
    ).case_id
    due, description = _vb(engine, vt, case_id)
    assert due == date(2026, 3, 20)
    assert "of the melding of 2026-03-13" in description


def test_the_record_keeps_when_it_was_received_and_when_it_was_registered(
    engine: Engine, monday: ManualClock, vt: Actor
) -> None:
    """The CaseOpened event's at is Monday's registration; received_at is Friday's, in UTC."""
    case_id = engine.open_case(actor=vt, via="melding", received_at=FRIDAY_EVENING).case_id
    details = _first_details(engine, vt, case_id, "CaseOpened")
    assert details["at"] == MONDAY_MORNING
    assert details["received_at"] == "2026-03-13T18:00:00Z"


def test_without_received_at_a_melding_counts_from_its_registration(
    engine: Engine, monday: ManualClock, vt: Actor
) -> None:
    """As before: no received_at given means received now, and the record says so."""
    case_id = engine.open_case(actor=vt, via="melding").case_id
    assert _first_details(engine, vt, case_id, "CaseOpened")["received_at"] == (
        "2026-03-16T08:00:00Z"
    )
    assert _vb(engine, vt, case_id)[0] == date(2026, 3, 23)


@pytest.mark.parametrize(
    ("received_at", "rule", "words"),
    [
        (MONDAY_MORNING + timedelta(minutes=1), "received_in_future", "in the future"),
        (datetime(2025, 3, 15, 12, 0, tzinfo=AMSTERDAM), "received_too_long_ago", "import"),
    ],
    ids=["a minute from now", "a year and a day ago"],
)
def test_a_melding_received_in_the_future_or_over_a_year_ago_is_refused_and_changes_nothing(
    engine: Engine, monday: ManualClock, vt: Actor, received_at: datetime, rule: str, words: str
) -> None:
    """A moment after now cannot be when it was received; more than a year back is a history
    for phasedcare import (or a mistyped year). Nothing is recorded."""
    with pytest.raises(Refused, match=words) as refused:
        engine.open_case(actor=vt, via="melding", received_at=received_at)
    assert refused.value.rule == rule
    assert engine.store.case_ids() == []


def test_a_melding_received_exactly_a_year_ago_is_still_registered(
    engine: Engine, monday: ManualClock, vt: Actor
) -> None:
    """16 March 2025 is the earliest day a melding registered on 16 March 2026 may carry."""
    received = datetime(2025, 3, 16, 0, 10, tzinfo=AMSTERDAM)
    case_id = engine.open_case(actor=vt, via="melding", received_at=received).case_id
    assert _vb(engine, vt, case_id)[0] == date(2025, 3, 21)


def test_a_received_at_without_an_offset_is_refused_at_the_boundary(
    engine: Engine, monday: ManualClock, vt: Actor
) -> None:
    """The Python API takes aware datetimes only: a naive one is InvalidInput naming the field."""
    with pytest.raises(InvalidInput, match="received_at") as refused:
        engine.open_case(actor=vt, via="melding", received_at=datetime(2026, 3, 13, 19, 0))  # noqa: DTZ001 - the point
    assert refused.value.field == "received_at"


def test_a_vervolgmelding_counts_its_own_received_moment(
    journey: Journey, engine: Engine, monday: ManualClock, vt: Actor
) -> None:
    """A police melding about a known household, received on Saturday night and recorded on
    Monday, keeps Saturday's moment; one dated tomorrow is refused."""
    journey.opened()
    saturday = datetime(2026, 3, 14, 23, 45, tzinfo=AMSTERDAM)
    engine.record_melding(journey.case_id, actor=vt, melder_kind="politie", received_at=saturday)
    details = _first_details(engine, vt, journey.case_id, "MeldingReceived")
    assert (details["at"], details["received_at"]) == (MONDAY_MORNING, "2026-03-14T22:45:00Z")
    with pytest.raises(Refused) as refused:
        engine.record_melding(
            journey.case_id, actor=vt, received_at=MONDAY_MORNING + timedelta(days=1)
        )
    assert refused.value.rule == "received_in_future"


def test_a_hermelding_registered_later_restarts_the_assessment_from_when_it_was_received(
    journey: Journey, engine: Engine, clock: ManualClock, vt: Actor
) -> None:
    """After Veilig Thuis closed, a hermelding received three days before it is registered
    gets its 5 werkdagen from the day it was received."""
    journey.closed()
    received = clock.now - timedelta(days=3)
    engine.record_melding(journey.case_id, actor=vt, melder_kind="politie", received_at=received)
    calendar = default_policy().working_days()
    expected = calendar.add_working_days(default_policy().local_date(received), 5)
    assert _vb(engine, vt, journey.case_id)[0] == expected


def test_an_event_from_before_received_at_counts_from_its_registration() -> None:
    """Old ledgers replay the same facts: a CaseOpened without received_at (written before the
    field existed) loads, and its melding counts from the event's own moment."""
    stored = {
        "case_id": "c-old",
        "at": "2026-03-09T23:30:00Z",
        "actor": {"user": "u-vt-01", "organisation": "vt-ijsselland", "role": "professional"},
        "policy_version": "2026.1",
        "region": "ijsselland",
        "via": "melding",
        "melder_kind": "politie",
        "regie_organisation": "vt-ijsselland",
        "casusregisseur": "u-vt-01",
    }
    event = ev.CaseOpened.model_validate_json(json.dumps(stored))
    assert event.received_at is None
    case = CaseState(case_id="c-old")
    apply(case, event)
    assert case.melding_received_at == datetime(2026, 3, 9, 23, 30, tzinfo=UTC)


def test_the_command_log_shows_the_received_moment_and_nothing_about_the_household(
    engine: Engine, monday: ManualClock, vt: Actor
) -> None:
    """The one log line per command carries received_at (a time) and no summary text."""
    with capture_logs() as logs:
        engine.open_case(
            actor=vt,
            via="melding",
            summary="Synthetic: buren hoorden geschreeuw.",
            received_at=FRIDAY_EVENING,
        )
        with pytest.raises(Refused):
            engine.open_case(actor=vt, via="melding", received_at=MONDAY_MORNING + timedelta(1))
    [done] = [line for line in logs if line["event"] == "command"]
    [refused] = [line for line in logs if line["event"] == "command refused"]
    assert done["received_at"] == "2026-03-13T18:00:00+00:00"
    assert (refused["received_at"], refused["rule"]) == (
        "2026-03-17T08:00:00+00:00",
        "received_in_future",
    )
    assert "geschreeuw" not in repr(logs)


# -- HTTP ---------------------------------------------------------------------------------------

_VT = {"Authorization": "Bearer tok-vt"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    authenticate = token_table({"tok-vt": actor_of("vt-ijsselland")})
    with TestClient(create_app(engine, authenticate=authenticate)) as c:
        yield c


def test_post_cases_takes_received_at_and_counts_the_deadline_from_it(
    client: TestClient, monday: ManualClock
) -> None:
    """POST /cases with received_at (an offset is required) counts the VB from Friday."""
    body = {"via": "melding", "melder_kind": "politie", "received_at": "2026-03-13T19:00:00+01:00"}
    opened = client.post("/cases", json=body, headers=_VT)
    assert opened.status_code == 201
    shown = client.get(f"/cases/{opened.json()['case_id']}", headers=_VT).json()
    assert [(d["kind"], d["due"]) for d in shown["deadlines"]] == [
        ("veiligheidsbeoordeling", "2026-03-20")
    ]


@pytest.mark.parametrize(
    ("received_at", "member", "expected"),
    [
        ("2026-03-16T09:30:00+01:00", "rule", "received_in_future"),
        ("2025-01-01T09:00:00+01:00", "rule", "received_too_long_ago"),
        ("2026-03-13T19:00:00", "detail", "body.received_at: Input should have timezone info"),
    ],
    ids=["in the future", "over a year back", "without an offset"],
)
def test_post_cases_refuses_a_bad_received_at_with_a_422_problem(
    client: TestClient,
    engine: Engine,
    monday: ManualClock,
    received_at: str,
    member: str,
    expected: str,
) -> None:
    """A future, too old or offset-less moment is a 422 problem naming the rule or field."""
    response = client.post(
        "/cases", json={"via": "melding", "received_at": received_at}, headers=_VT
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem[member] == expected, problem
    assert engine.store.case_ids() == []


def test_record_melding_over_http_takes_received_at(
    client: TestClient, engine: Engine, monday: ManualClock, vt: Actor
) -> None:
    """POST /cases/{id}/record-melding records the vervolgmelding's received moment."""
    case_id = client.post("/cases", json={"via": "melding"}, headers=_VT).json()["case_id"]
    body = {"melder_kind": "politie", "received_at": "2026-03-15T23:45:00+01:00"}
    response = client.post(f"/cases/{case_id}/record-melding", json=body, headers=_VT)
    assert response.status_code == 200, response.json()
    details = _first_details(engine, vt, case_id, "MeldingReceived")
    assert details["received_at"] == "2026-03-15T22:45:00Z"


# -- CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised home with a Veilig Thuis professional as actor."""
    folder = tmp_path / "home"
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    monkeypatch.setenv("PHASEDCARE_ACTOR", "u-vt-01@vt-ijsselland:professional")
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    return folder


def test_case_open_takes_a_local_received_at_and_the_deadline_counts_from_that_day(
    home: Path,
) -> None:
    """`case open --received-at 2026-...T23:30` (no offset: Amsterdam time) three days ago
    puts the VB 5 werkdagen after that Amsterdam day."""
    policy = default_policy()
    received = (datetime.now(AMSTERDAM) - timedelta(days=3)).replace(
        hour=23, minute=30, second=0, microsecond=0, tzinfo=None
    )
    runner = CliRunner()
    opened = runner.invoke(app, ["case", "open", "--received-at", f"{received:%Y-%m-%dT%H:%M}"])
    assert opened.exit_code == 0, opened.stderr
    listed = json.loads(runner.invoke(app, ["deadlines", "--json"]).stdout)
    expected = policy.working_days().add_working_days(received.date(), 5)
    assert [(r["kind"], r["due"]) for r in listed] == [
        ("veiligheidsbeoordeling", expected.isoformat())
    ]


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("2999-01-01T10:00", 5, "cannot have been received in the future"),
        ("yesterday", 2, "is not a time of the form"),
        ("2026-03-29T02:30", 2, "does not exist in Europe/Amsterdam"),
        ("2026-10-25T02:30", 2, "happens twice in Europe/Amsterdam"),
    ],
)
def test_case_open_refuses_a_bad_received_at_in_one_line_and_records_nothing(
    home: Path, text: str, code: int, words: str
) -> None:
    """A future, malformed, skipped or doubled local time is one clear error line."""
    result = CliRunner().invoke(app, ["case", "open", "--received-at", text])
    assert result.exit_code == code, (result.stdout, result.stderr)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert words in line
    listed = json.loads(CliRunner().invoke(app, ["case", "list", "--json"]).stdout)
    assert listed == []
