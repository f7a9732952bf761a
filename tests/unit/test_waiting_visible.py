"""Waiting is visible (issue 14; domain.md 5, the IGJ wachtlijst finding): a melding waiting
past its term is shown with whether zicht op veiligheid has been organised meanwhile.

The story: on Monday 2 March 2026 a school reports a family to Veilig Thuis. The
veiligheidsbeoordeling is due Monday 9 March; on Wednesday 11 March it has not happened. The
inspectie found that two thirds of Veilig Thuis organisations kept too little oversight of such
waiting families, so the case shows it: waiting past its term, no zicht organised. Veilig Thuis
then arranges that the wijkteam, which knows the family, keeps in contact until 25 March.
"""

from __future__ import annotations

from datetime import date

import pytest

from phasedcare.errors import InvalidInput, NotAuthorised, Refused
from phasedcare.service.engine import Engine
from phasedcare.service.views import waiting_zicht
from phasedcare.testing import ManualClock
from support import TAXATIE, Journey

NOTE = "De wijkcoach belt het gezin twee keer per week (synthetisch)."


def waiting_melding(journey: Journey, clock: ManualClock, melder: str | None = None) -> Journey:
    """A melding received on Monday 2 March, its veiligheidsbeoordeling due 9 March, now
    Wednesday 11 March and still not concluded."""
    journey.opened(melder=melder).with_members()
    clock.advance(days=9)
    assert clock.today == date(2026, 3, 11)
    return journey


def caseload_zicht(engine: Engine, journey: Journey) -> tuple[date | None, str | None]:
    """The caseload row's zicht_until and what the caseload shows for a waiting melding."""
    [row] = engine.list_cases(actor=journey.vt)
    return row.zicht_until, waiting_zicht(row, engine.today(), engine.now())


def organise(journey: Journey, **changes: object) -> object:
    fields: dict[str, object] = {
        "melding_id": "m1",
        "kept_by": journey.wijkteam.organisation,
        "means": "contact_met_gezin",
        "until": date(2026, 3, 25),
        "note": NOTE,
        **changes,
    }
    actor = fields.pop("actor", journey.vt)
    return journey.engine.organise_zicht(journey.case_id, actor=actor, **fields)


def test_a_melding_waiting_past_its_term_shows_whether_zicht_is_organised(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    waiting_melding(journey, clock)
    [melding] = engine.show(journey.case_id, actor=journey.vt).meldingen
    assert (melding.waiting_past_term, melding.zicht_organised, melding.zicht) == (
        True,
        False,
        None,
    )
    assert caseload_zicht(engine, journey) == (None, "none")

    organise(journey)

    [melding] = engine.show(journey.case_id, actor=journey.vt).meldingen
    assert (melding.waiting_past_term, melding.zicht_organised) == (True, True)
    assert melding.zicht is not None
    assert (melding.zicht.kept_by, melding.zicht.means, melding.zicht.until) == (
        journey.wijkteam.organisation,
        "contact_met_gezin",
        date(2026, 3, 25),
    )
    assert caseload_zicht(engine, journey) == (date(2026, 3, 25), "until 2026-03-25")
    assert engine.projection_differences() == []


def test_zicht_that_ran_out_shows_as_not_organised_and_assessing_ends_the_wait(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """After 25 March the arrangement has lapsed: the melding waits with no zicht again. Once
    Veilig Thuis concludes the veiligheidsbeoordeling, nothing waits."""
    waiting_melding(journey, clock)
    organise(journey)
    clock.advance(days=15)  # Thursday 26 March
    [melding] = engine.show(journey.case_id, actor=journey.vt).meldingen
    assert (melding.waiting_past_term, melding.zicht_organised) == (True, False)
    assert caseload_zicht(engine, journey) == (date(2026, 3, 25), "none")

    journey.assessing()
    journey.with_conditions()
    engine.fire(
        journey.case_id, "besluit_voorwaarden_en_vervolg", actor=journey.vt, chart="vt", **TAXATIE
    )
    [melding] = engine.show(journey.case_id, actor=journey.vt).meldingen
    assert (melding.waiting_past_term, melding.zicht_organised) == (False, None)
    assert caseload_zicht(engine, journey) == (None, None)


def test_a_melding_still_in_its_term_is_not_waiting(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    """Zicht may be organised before the term ends; the melding is not waiting past it yet."""
    journey.opened().with_members()
    organise(journey, until=date(2026, 3, 16))
    [melding] = engine.show(journey.case_id, actor=journey.vt).meldingen
    assert (melding.waiting_past_term, melding.zicht_organised) == (False, True)
    assert caseload_zicht(engine, journey) == (date(2026, 3, 16), None)


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"melding_id": "m7"}, Refused, "has no melding m7"),
        ({"until": date(2026, 3, 10)}, Refused, "zicht until 2026-03-10 has passed"),
        ({"until": date(2026, 7, 1)}, Refused, "at most 28 days ahead"),
        ({"kept_by": "wijkteam-nergens"}, Refused, "wijkteam-nergens"),
        ({"means": "hopen"}, InvalidInput, "means"),
        ({"actor": "wijkteam"}, NotAuthorised, "only Veilig Thuis"),
    ],
)
def test_zicht_that_cannot_be_is_refused_and_changes_nothing(
    journey: Journey,
    engine: Engine,
    clock: ManualClock,
    changes: dict[str, object],
    error: type[Exception],
    words: str,
) -> None:
    # the wijkteam made the melding, so it has a part in the case and is told why not
    waiting_melding(journey, clock, melder=journey.wijkteam.organisation)
    if changes.get("actor") == "wijkteam":
        changes = {"actor": journey.wijkteam}
    before = engine.show(journey.case_id, actor=journey.vt).sequence
    with pytest.raises(error, match=words):
        organise(journey, **changes)
    assert engine.show(journey.case_id, actor=journey.vt).sequence == before


def test_zicht_for_an_assessed_melding_is_refused(
    journey: Journey, engine: Engine, clock: ManualClock
) -> None:
    journey.opened().with_members().assessing().with_conditions()
    engine.fire(
        journey.case_id, "besluit_voorwaarden_en_vervolg", actor=journey.vt, chart="vt", **TAXATIE
    )
    with pytest.raises(Refused, match="concluded already"):
        organise(journey)
