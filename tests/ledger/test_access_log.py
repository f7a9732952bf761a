"""The NEN 7513 access log: every read, search and refusal becomes a sealed ledger record."""

from __future__ import annotations

import pytest

from phasedcare.domain.actors import Actor
from phasedcare.errors import NotFound, TransitionRefused
from phasedcare.service.access import CASELOAD, access_stream
from phasedcare.service.engine import Engine
from phasedcare.testing import actor_of
from support import Journey


def entries(engine: Engine, case_id: str, auditor: Actor) -> list[tuple[str, str, str, str, str]]:
    """(actor, action, query, outcome, basis) of the case's access log, without the auditor's own look."""
    found = engine.access_history(case_id, actor=auditor)
    return [
        (e.actor, e.action, e.query, e.outcome, e.legal_basis)
        for e in found
        if e.actor != str(auditor)
    ]


def test_every_read_is_logged_with_who_what_and_on_which_basis(
    journey: Journey, engine: Engine, vt: Actor, wijkteam: Actor, auditor: Actor
) -> None:
    """show, history, allowed and replay each leave one entry naming the basis of access."""
    journey.opened()
    engine.show(journey.case_id, actor=vt)
    engine.history(journey.case_id, actor=vt)
    engine.allowed(journey.case_id, actor=vt)
    engine.state_at(journey.case_id, actor=auditor, sequence=1)
    vt_id = str(vt)
    assert entries(engine, journey.case_id, auditor) == [
        (vt_id, "read", "show", "allowed", "regie"),
        (vt_id, "read", "history", "allowed", "regie"),
        (vt_id, "read", "allowed", "allowed", "regie"),
    ]
    queries = [e.query for e in engine.access_history(journey.case_id, actor=auditor)]
    assert queries[-3:] == ["replay", "access_history", "access_history"]


def test_a_denied_read_is_logged(
    journey: Journey, engine: Engine, wijkteam: Actor, auditor: Actor
) -> None:
    """A read without need to know is refused (as if the case did not exist, to an
    organisation with no part in it) and the attempt recorded with its real reason."""
    journey.opened()
    with pytest.raises(NotFound, match="does not exist or you may not read it"):
        engine.show(journey.case_id, actor=wijkteam)
    [entry] = [
        e for e in engine.access_history(journey.case_id, actor=auditor) if e.actor == str(wijkteam)
    ]
    assert (entry.outcome, entry.detail, entry.access_point) == (
        "denied",
        "NotAuthorised",
        "python",
    )


def test_a_refused_command_is_logged_and_changes_nothing_else(
    journey: Journey, engine: Engine, vt: Actor, auditor: Actor
) -> None:
    """A refusal leaves an access entry with its rule, not a case event."""
    journey.opened()
    sequence = engine.show(journey.case_id, actor=vt).sequence
    with pytest.raises(TransitionRefused):
        engine.fire(journey.case_id, "start_directe_veiligheid", actor=vt)
    assert engine.show(journey.case_id, actor=vt).sequence == sequence
    refused = [
        e for e in engine.access_history(journey.case_id, actor=auditor) if e.outcome == "refused"
    ]
    assert [(e.query, e.detail) for e in refused] == [
        ("FireEvent", "TransitionRefused:has_members")
    ]


def test_searches_are_logged_on_the_caseload(engine: Engine, vt: Actor) -> None:
    """Listing cases is a search, recorded in the caseload's access stream."""
    engine.list_cases(actor=vt, phase="herstel")
    records = engine.store.load(access_stream(CASELOAD))
    assert len(records) == 1
    assert records[0].header.event_type == "AccessRecorded"
    assert records[0].header.key_id == "1"


def test_access_streams_are_not_cases_and_the_ledger_still_verifies(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """Access entries never show up as cases or change projections; the tree covers them too."""
    journey.in_directe_veiligheid()
    for _ in range(3):
        engine.show(journey.case_id, actor=vt)
    assert engine.store.case_ids() == [journey.case_id]
    assert engine.projection_differences() == []
    assert engine.auditor is not None
    engine.auditor.checkpoint()
    report = engine.auditor.verify()
    assert report.intact
    assert report.cases == 2  # the case and its access stream
    assert report.records == report.tree_size


def test_an_outsider_cannot_read_the_access_log(journey: Journey, engine: Engine) -> None:
    """The access log is read under the same need-to-know rules as the case."""
    journey.opened()
    with pytest.raises(NotFound, match="does not exist or you may not read it"):
        engine.access_history(journey.case_id, actor=actor_of("wijkteam-deventer"))
