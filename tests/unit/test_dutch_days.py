"""Dutch days: a melding, a deadline, a share and a retention term are judged on the calendar
day of the region's time zone (Europe/Amsterdam by default), never on UTC's."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from phasedcare.domain.actors import Actor
from phasedcare.domain.case import CaseState, RegieAssignment
from phasedcare.domain.policy import default_policy, default_policy_text, parse_policy
from phasedcare.domain.retention import retention
from phasedcare.errors import InvalidInput, NotAuthorised, PolicyError, Refused
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.testing import ManualClock, actor_of, memory_engine

POLICE = actor_of("politie-ijsselland", user="u-pol-01")


def _vb_due(engine: Engine, vt: Actor, case_id: str) -> date:
    [row] = [
        r
        for r in engine.deadlines(actor=vt)
        if r.case_id == case_id and r.kind == "veiligheidsbeoordeling"
    ]
    return row.due


def _police_melding_at(engine: Engine, clock: ManualClock, vt: Actor, moment: str) -> str:
    clock.now = datetime.fromisoformat(moment)
    return engine.open_case(actor=vt, via="melding", melder_kind="politie").case_id


def _share_with_police_until_1_december(engine: Engine, vt: Actor, case_id: str) -> None:
    engine.grant_share(
        case_id,
        actor=vt,
        to_organisation="politie-ijsselland",
        legal_basis="art. 5.2.6 Wmo 2015",
        expires_on=date(2026, 12, 1),
    )


def test_a_police_melding_at_half_past_midnight_on_a_tuesday_is_assessed_by_the_next_tuesday(
    engine: Engine, clock: ManualClock, vt: Actor
) -> None:
    """Tuesday 10 March 2026, 00:30 in Amsterdam (Monday 23:30 UTC) is a Tuesday melding:
    5 werkdagen after Tuesday is Tuesday 17 March, not Monday 16 March (finding 2.19, S7)."""
    case_id = _police_melding_at(engine, clock, vt, "2026-03-09T23:30:00+00:00")
    assert _vb_due(engine, vt, case_id) == date(2026, 3, 17)
    [shown] = engine.show(case_id, actor=vt).deadlines
    assert (shown.due, shown.overdue) == (date(2026, 3, 17), False)
    assert "of the melding of 2026-03-10" in shown.description


def test_a_melding_at_half_past_eleven_on_monday_night_stays_a_monday_melding(
    engine: Engine, clock: ManualClock, vt: Actor
) -> None:
    """Monday 9 March, 23:30 in Amsterdam (22:30 UTC): 5 werkdagen after Monday is 16 March."""
    case_id = _police_melding_at(engine, clock, vt, "2026-03-09T22:30:00+00:00")
    assert _vb_due(engine, vt, case_id) == date(2026, 3, 16)


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        # before the clocks go forward (CET, UTC+1); Goede Vrijdag 3 April and Tweede
        # paasdag 6 April are no werkdagen
        pytest.param("2026-03-26T22:30:00+00:00", date(2026, 4, 2), id="Thu 26 Mar 23:30 CET"),
        pytest.param("2026-03-26T23:30:00+00:00", date(2026, 4, 7), id="Fri 27 Mar 00:30 CET"),
        # after the clocks went forward on Sunday 29 March (CEST, UTC+2)
        pytest.param("2026-03-29T21:30:00+00:00", date(2026, 4, 7), id="Sun 29 Mar 23:30 CEST"),
        pytest.param("2026-03-29T22:30:00+00:00", date(2026, 4, 8), id="Mon 30 Mar 00:30 CEST"),
        # before the clocks go back (CEST, UTC+2)
        pytest.param("2026-10-22T21:30:00+00:00", date(2026, 10, 29), id="Thu 22 Oct 23:30 CEST"),
        pytest.param("2026-10-22T22:30:00+00:00", date(2026, 10, 30), id="Fri 23 Oct 00:30 CEST"),
        # after the clocks went back on Sunday 25 October (CET, UTC+1)
        pytest.param("2026-10-25T22:30:00+00:00", date(2026, 10, 30), id="Sun 25 Oct 23:30 CET"),
        pytest.param("2026-10-25T23:30:00+00:00", date(2026, 11, 2), id="Mon 26 Oct 00:30 CET"),
    ],
)
def test_a_melding_around_midnight_counts_from_the_amsterdam_day_on_both_sides_of_dst(
    engine: Engine, clock: ManualClock, vt: Actor, moment: str, due: date
) -> None:
    """23:30 is the day before and 00:30 the day after, in winter time and in summer time."""
    case_id = _police_melding_at(engine, clock, vt, moment)
    assert _vb_due(engine, vt, case_id) == due


@pytest.mark.parametrize(
    "moment",
    [
        pytest.param("2026-03-13T22:30:00+00:00", id="Fri 13 Mar 23:30"),
        pytest.param("2026-03-13T23:30:00+00:00", id="Sat 14 Mar 00:30"),
        pytest.param("2026-03-15T22:30:00+00:00", id="Sun 15 Mar 23:30"),
    ],
)
def test_a_melding_on_friday_night_or_in_the_weekend_is_assessed_by_the_next_friday(
    engine: Engine, clock: ManualClock, vt: Actor, moment: str
) -> None:
    """The weekend holds no werkdag: Friday night, Saturday and Sunday meldingen are all due
    on Friday 20 March."""
    case_id = _police_melding_at(engine, clock, vt, moment)
    assert _vb_due(engine, vt, case_id) == date(2026, 3, 20)


def test_a_deadline_of_friday_is_overdue_from_midnight_in_amsterdam_and_escalated_then(
    engine: Engine, clock: ManualClock, vt: Actor, jobs: Jobs
) -> None:
    """Due Friday 20 March: at 23:30 that Friday nothing is late; at 00:30 on Saturday (still
    Friday 23:30 in UTC) the sweep escalates it and it is listed as overdue."""
    case_id = _police_melding_at(engine, clock, vt, "2026-03-13T09:00:00+00:00")
    assert _vb_due(engine, vt, case_id) == date(2026, 3, 20)
    clock.now = datetime(2026, 3, 20, 22, 30, tzinfo=UTC)
    assert engine.today() == date(2026, 3, 20)
    assert jobs.sweep_deadlines().escalated == []
    assert engine.deadlines(actor=vt, overdue=True) == []
    clock.now = datetime(2026, 3, 20, 23, 30, tzinfo=UTC)
    assert engine.today() == date(2026, 3, 21)
    assert jobs.sweep_deadlines().escalated == [f"{case_id}:veiligheidsbeoordeling:2026-03-20"]
    assert [r.case_id for r in engine.deadlines(actor=vt, overdue=True)] == [case_id]


def test_a_share_until_1_december_ends_at_midnight_in_amsterdam_not_at_one_oclock(
    engine: Engine, clock: ManualClock, vt: Actor
) -> None:
    """The police read until 23:59 on 1 December Amsterdam time; at 00:30 on 2 December
    (23:30 UTC on 1 December) the share has expired."""
    case_id = _police_melding_at(engine, clock, vt, "2026-11-02T09:00:00+00:00")
    _share_with_police_until_1_december(engine, vt, case_id)
    clock.now = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
    assert engine.show(case_id, actor=POLICE).case_id == case_id
    clock.now = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    with pytest.raises(NotAuthorised, match="share s1 expired on 2026-12-01"):
        engine.show(case_id, actor=POLICE)


def test_a_share_cannot_be_granted_until_yesterday_just_after_midnight(
    engine: Engine, clock: ManualClock, vt: Actor
) -> None:
    """At 00:30 on 2 December in Amsterdam, 1 December lies in the past for a new share."""
    case_id = _police_melding_at(engine, clock, vt, "2026-12-01T23:30:00+00:00")
    with pytest.raises(Refused, match=r"lies in the past \(today is 2026-12-02\)"):
        _share_with_police_until_1_december(engine, vt, case_id)


def test_a_case_closed_just_after_new_year_in_amsterdam_is_kept_from_the_new_year() -> None:
    """A case closed at 00:30 on 1 January 2027 in Amsterdam (31 December UTC) is kept 20
    years from 1 January 2027: until 2047-01-01, and erased no earlier."""
    policy = default_policy()
    closed_at = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    case = CaseState(case_id="c-ny", phase="afgesloten", phase_since=closed_at)
    case.regie_history.append(RegieAssignment("vt-ijsselland", "u-vt-01", closed_at))
    decision = retention(case, policy, date(2046, 12, 31))
    assert (decision.keep_until, decision.due) == (date(2047, 1, 1), False)
    assert retention(case, policy, date(2047, 1, 1)).due


def test_the_region_s_time_zone_comes_from_its_policy(clock: ManualClock, vt: Actor) -> None:
    """A region in Caribisch Nederland (America/Kralendijk, UTC-4) counts a melding at 20:30
    on Monday 9 March local time, already Tuesday in UTC, as a Monday melding."""
    text = default_policy_text().replace(
        "time_zone: Europe/Amsterdam", "time_zone: America/Kralendijk"
    )
    policy = parse_policy(text, source="bonaire.yaml")
    engine = memory_engine(policy=policy, clock=clock)
    try:
        case_id = _police_melding_at(engine, clock, vt, "2026-03-10T00:30:00+00:00")
        assert engine.today() == date(2026, 3, 9)
        assert _vb_due(engine, vt, case_id) == date(2026, 3, 16)
    finally:
        engine.close()


def test_the_default_region_judges_days_in_amsterdam() -> None:
    """The shipped policy names Europe/Amsterdam; a policy that leaves it out gets it too."""
    assert default_policy().time_zone == "Europe/Amsterdam"
    text = default_policy_text().replace("time_zone: Europe/Amsterdam", "")
    assert parse_policy(text, source="p.yaml").time_zone == "Europe/Amsterdam"


@pytest.mark.parametrize("zone", ["Europe/Amsterdamm", "Europe", "CET/../Amsterdam", ""])
def test_an_unknown_time_zone_is_refused_at_its_line(zone: str) -> None:
    """A time zone zoneinfo does not know is a policy error naming the file, line and field."""
    text = default_policy_text().replace("time_zone: Europe/Amsterdam", f'time_zone: "{zone}"')
    with pytest.raises(PolicyError, match=r"^p\.yaml line 12: time_zone: "):
        parse_policy(text, source="p.yaml")


def test_a_moment_without_a_time_zone_has_no_day() -> None:
    """local_date refuses a naive datetime: it could be any of two calendar days."""
    with pytest.raises(InvalidInput, match="carries no time zone"):
        default_policy().local_date(datetime(2026, 3, 10, 0, 30))  # noqa: DTZ001 - the point
