"""The console's words: every key a template names has its Dutch and its English text, and
every state, event and event type of the engine reads as words in both."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.resources import files

import pytest
from console_support import csrf_of
from fastapi.testclient import TestClient

from phasedcare.domain import events as ev
from phasedcare.domain.actors import Actor
from phasedcare.domain.charts import CHARTS
from phasedcare.service.engine import Engine
from phasedcare.web.forms import ACTIONS, OPEN_CASE
from phasedcare.web.i18n import LANGUAGES, MESSAGES, translate
from support import Journey

_LITERAL = re.compile(r"""t\(\s*["']([a-z_.-]+)["']\s*\)""")


def _template_keys() -> set[str]:
    folder = files("phasedcare.web") / "templates"
    found: set[str] = set()
    for template in folder.iterdir():
        found |= set(_LITERAL.findall(template.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_key_a_template_names_has_its_text(language: str) -> None:
    keys = _template_keys()
    assert len(keys) > 100  # the scan finds the templates' words
    assert sorted(k for k in keys if k not in MESSAGES[language]) == []


def test_both_languages_have_the_same_keys_and_dutch_is_the_default() -> None:
    assert set(MESSAGES["nl"]) == set(MESSAGES["en"])
    assert translate("fr", "nav.caseload") == MESSAGES["nl"]["nav.caseload"]
    assert translate("en", "case.now") == "What can I do now"
    assert translate("nl", "case.now") == "Wat kan ik nu doen"


def test_every_form_field_and_action_has_words_in_both_languages() -> None:
    fields = {n for a in (*ACTIONS.values(), OPEN_CASE) for n in a.command.model_fields}
    fields -= {"case_id", "items", "assessment_id", "scale_up", "received_at", "chart", "event"}
    fields -= {"handover_id", "review_id"}
    for language in LANGUAGES:
        missing = sorted(f for f in fields if f"field.{f}" not in MESSAGES[language])
        assert missing == [], language
        assert sorted(s for s in ACTIONS if f"action.{s}" not in MESSAGES[language]) == [
            "gebeurtenis"
        ]


def test_every_event_type_has_words_and_every_state_reads_as_words() -> None:
    types = [
        n for n, o in vars(ev).items() if isinstance(o, type) and issubclass(o, ev.DomainEvent)
    ]
    types.remove("DomainEvent")
    for language in LANGUAGES:
        assert sorted(t for t in types if f"eventtype.{t}" not in MESSAGES[language]) == []
    for chart in CHARTS.values():
        for state in chart.states:
            assert "_" not in translate("nl", f"state.{state.id}")


def test_each_user_chooses_the_language_and_dutch_comes_first(
    signed_in: Callable[[Actor], TestClient], journey: Journey, vt: Actor
) -> None:
    case_id = journey.opened().case_id
    browser = signed_in(vt)
    dutch = browser.get(f"/console/zaken/{case_id}").text
    assert '<html lang="nl"' in dutch
    assert "Wat kan ik nu doen" in dutch
    switched = browser.post(
        "/console/taal",
        data={"csrf": csrf_of(dutch), "taal": "en", "terug": f"/console/zaken/{case_id}"},
        follow_redirects=False,
    )
    assert switched.headers["location"] == f"/console/zaken/{case_id}"
    english = browser.get(f"/console/zaken/{case_id}").text
    assert '<html lang="en"' in english
    assert "What can I do now" in english
    other = signed_in(vt)  # another user's session keeps its own language
    assert "Wat kan ik nu doen" in other.get(f"/console/zaken/{case_id}").text
    away = browser.post(
        "/console/taal",
        data={"csrf": csrf_of(english), "taal": "nl", "terug": "https://example.org/"},
        follow_redirects=False,
    )
    assert away.headers["location"] == "/console/"  # never a redirect off the console


def test_every_specific_group_says_what_it_changes_in_both_languages() -> None:
    from phasedcare.domain.household import SpecificGroup  # noqa: PLC0415

    for language in LANGUAGES:
        for group in SpecificGroup:
            assert f"flagmeans.{group}" in MESSAGES[language], (language, group)


def test_a_flagged_case_page_says_what_to_take_care_of(
    signed_in: Callable[[Actor], TestClient], journey: Journey, vt: Actor, engine: Engine
) -> None:
    from phasedcare.domain import commands as cmd  # noqa: PLC0415

    case_id = journey.opened().case_id
    engine.handle(cmd.FlagSpecificGroup(case_id=case_id, flag="eergerelateerd_geweld"), actor=vt)
    page = signed_in(vt).get(f"/console/zaken/{case_id}").text
    assert "Let op bij deze zaak" in page
    assert "neem niet vroeg contact op met de familie" in page
