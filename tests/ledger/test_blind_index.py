"""The known-household lookup: found by name (and date of birth), no name stored in clear."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from phasedcare.bootstrap import build, initialise
from phasedcare.config import Settings
from phasedcare.domain.actors import Actor
from phasedcare.errors import NotAuthorised
from phasedcare.ledger.blind_index import normalise_name
from phasedcare.service.engine import Engine
from support import CANARY_NAMES


def test_names_are_normalised_before_hashing() -> None:
    """Case, accents, punctuation and spacing do not matter."""
    assert (
        normalise_name("  Émile  de VRIES-Ot ")
        == normalise_name("emile de vries ot")
        == "emile de vries ot"
    )


def test_a_known_household_is_found_by_name_and_date_of_birth(engine: Engine, vt: Actor) -> None:
    """A member recorded in one case is found by a new melding's name, with or without birth date."""
    known = engine.open_case(actor=vt, via="melding").case_id
    other = engine.open_case(actor=vt, via="melding").case_id
    engine.record_member(
        known, actor=vt, role="kind", name="Mila van den Proef", date_of_birth=date(2016, 2, 29)
    )
    engine.record_member(
        other, actor=vt, role="kind", name="Mila van den Proef", date_of_birth=date(2019, 1, 1)
    )
    assert engine.find_known_household(
        actor=vt, name="mila VAN DEN proef", date_of_birth=date(2016, 2, 29)
    ) == [known]
    assert engine.find_known_household(actor=vt, name="Mila van den Proef") == sorted(
        [known, other]
    )
    assert engine.find_known_household(actor=vt, name="Mila van der Proef") == []


def test_only_veilig_thuis_looks_up_households(engine: Engine, wijkteam: Actor) -> None:
    """A wijkteam cannot search households it holds no regie over."""
    with pytest.raises(NotAuthorised, match="looked up by Veilig Thuis"):
        engine.find_known_household(actor=wijkteam, name="Mila van den Proef")


def test_the_index_holds_no_names(tmp_path: Path, vt: Actor) -> None:
    """On disk the index is tokens only, and the lookup still finds the case."""
    settings = Settings(home=tmp_path / "home")
    initialise(settings)
    engine = build(settings)
    case_id = engine.open_case(actor=vt, via="melding").case_id
    for name in CANARY_NAMES:
        engine.record_member(
            case_id, actor=vt, role="slachtoffer", name=name, date_of_birth=date(1990, 1, 1)
        )
    assert engine.find_known_household(
        actor=vt, name=CANARY_NAMES[1], date_of_birth=date(1990, 1, 1)
    ) == [case_id]
    engine.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "home").glob("phasedcare.db*"))
    assert all(
        name.encode() not in raw and normalise_name(name).encode() not in raw
        for name in CANARY_NAMES
    )
