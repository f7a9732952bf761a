"""The access report of one employee (NEN 7513 ch. 9): what a user read, did and was refused,
across the cases, for auditors only, scoped to their organisation unless region-wide."""

from __future__ import annotations

import pytest

from phasedcare.domain.actors import Actor, Role
from phasedcare.errors import InvalidInput, NotAuthorised, NotFound
from phasedcare.service.engine import Engine
from phasedcare.testing import actor_of
from support import Journey

POLITIE = actor_of("politie-ijsselland", user="u-po-01")
DEVENTER_AUDITOR = actor_of("wijkteam-deventer", user="u-dv-audit", role=Role.auditor)


def _story(engine: Engine, journey: Journey, vt: Actor) -> tuple[str, str]:
    first = journey.opened().with_members().case_id
    second = engine.open_case(actor=vt, via="advies").case_id
    engine.show(first, actor=vt)
    engine.history(second, actor=vt)
    with pytest.raises(NotFound):  # the police have no part in it: missing, and logged
        engine.show(second, actor=POLITIE)
    return first, second


def test_a_region_auditor_sees_everything_one_employee_did_and_was_refused(
    engine: Engine, journey: Journey, vt: Actor, auditor: Actor
) -> None:
    first, second = _story(engine, journey, vt)
    mine = engine.employee_access(vt.user, actor=auditor)
    assert {e.case_id for e in mine} >= {first, second}
    assert ("read", "show", "allowed") in {
        (e.entry.action, e.entry.query, e.entry.outcome) for e in mine if e.case_id == first
    }
    assert all(e.entry.actor == str(vt) for e in mine)
    assert [e.entry.at for e in mine] == sorted(e.entry.at for e in mine)
    police = engine.employee_access(POLITIE.user, actor=auditor)
    assert [(e.case_id, e.entry.query, e.entry.outcome) for e in police] == [
        (second, "show", "denied")
    ]


def test_an_organisations_auditor_sees_only_its_own_employees(
    engine: Engine, journey: Journey, vt: Actor
) -> None:
    _story(engine, journey, vt)
    assert engine.employee_access(vt.user, actor=DEVENTER_AUDITOR) == []
    assert engine.employee_access(POLITIE.user, actor=DEVENTER_AUDITOR) == []
    own = engine.employee_access(DEVENTER_AUDITOR.user, actor=DEVENTER_AUDITOR)
    assert [(e.entry.query, e.entry.outcome) for e in own] == [("employee_access", "allowed")] * 3


def test_only_auditors_report_and_every_report_is_logged(
    engine: Engine, journey: Journey, vt: Actor, auditor: Actor
) -> None:
    _story(engine, journey, vt)
    with pytest.raises(NotAuthorised, match="only auditors"):
        engine.employee_access(POLITIE.user, actor=vt)
    with pytest.raises(InvalidInput):
        engine.employee_access("  ", actor=auditor)
    searches = [
        (e.entry.actor, e.entry.outcome)
        for e in engine.employee_access(vt.user, actor=auditor)
        if e.entry.query == "employee_access"
    ]
    assert searches == [(str(vt), "denied")]
