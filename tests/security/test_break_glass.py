"""L5: a break-glass reason is real text, repeated use is limited, and every use is reviewed.

- The reason needs ten letters (any script), four of them different; zero-width characters,
  NULs, spaces, digits and a run of one letter do not make a reason; control characters and
  bidirectional overrides refuse it.
- One professional may break the glass on one case as often as the policy's
  ``break_glass`` section allows in its period (default once in 24 hours); the refusal says
  from when it may be broken again. Across cases, one professional breaks the glass on at
  most ``max_cases_per_day`` different cases a day (default 3), counted in the store, so a
  restart or another process counts the same uses.
- A refusal records no event, only the denied attempt in the access log; each use opens
  exactly one review task.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from phasedcare.api import create_app
from phasedcare.bootstrap import build, initialise
from phasedcare.config import Settings
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import (
    BreakGlassSettings,
    default_policy,
    default_policy_text,
    parse_policy,
)
from phasedcare.errors import InvalidInput, NotAuthorised, PolicyError, Refused
from phasedcare.service.access import CASELOAD
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock, actor_of, memory_engine
from support import Journey

POLICE = actor_of("politie-ijsselland", user="u-pol-01")
COLLEAGUE = actor_of("politie-ijsselland", user="u-pol-02")
REASON = "acute danger reported by a neighbour at night"

NO_REASON = {
    "ten zero-width spaces": "\u200b" * 10,
    "ten NULs": "\x00" * 10,
    "twelve spaces": " " * 12,
    "one letter repeated": "aaaaaaaaaa",
    "two letters alternating": "AbAbAbAbAbAb",
    "digits and punctuation": "1234567890 !!! ???",
    "a word": "urgent",
    "six letters padded with zero-width characters": "\u200dgevaar\u200d" + "\u200b" * 9,
}
NOT_TEXT = {
    "a NUL inside a sentence": "acute danger\x00 reported by phone",
    "an escape sequence": "acute danger \x1b[2J reported by phone",
    "a bidi override": "acute \u202edanger reported\u202c by phone",
}


def event_count(engine: Engine, case_id: str, vt: Actor) -> int:
    """How many events the case holds."""
    return len(engine.history(case_id, actor=vt))


def denied_break_glass(engine: Engine, case_id: str, vt: Actor) -> list[str]:
    """The details of the denied break-glass attempts in the case's access log."""
    entries = engine.access_history(case_id, actor=vt)
    return [e.detail for e in entries if e.query == "break_glass" and e.outcome == "denied"]


@pytest.mark.parametrize(
    "reason", [*NO_REASON.values(), *NOT_TEXT.values()], ids=[*NO_REASON, *NOT_TEXT]
)
def test_a_reason_that_is_no_text_is_refused_and_changes_nothing(
    journey: Journey, engine: Engine, vt: Actor, reason: str
) -> None:
    """InvalidInput on the reason; no event, no review task; the attempt is logged denied."""
    journey.opened()
    before = event_count(engine, journey.case_id, vt)
    with pytest.raises(InvalidInput) as refused:
        engine.break_glass(journey.case_id, actor=POLICE, reason=reason)
    assert refused.value.field == "reason"
    assert event_count(engine, journey.case_id, vt) == before
    assert engine.review_tasks(actor=vt) == []
    assert denied_break_glass(engine, journey.case_id, vt) == ["InvalidInput"]


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        (NO_REASON["ten zero-width spaces"], "at least 10 letters"),
        (NO_REASON["one letter repeated"], "at least 4 different letters"),
        (NOT_TEXT["a bidi override"], "control or bidirectional characters"),
    ],
)
def test_the_refusal_says_what_a_reason_needs(
    journey: Journey, engine: Engine, reason: str, why: str
) -> None:
    """The message names the rule the reason broke."""
    journey.opened()
    with pytest.raises(InvalidInput, match=why):
        engine.break_glass(journey.case_id, actor=POLICE, reason=reason)


@pytest.mark.parametrize(
    "reason",
    [
        "Kind in acuut gevaar, melding politie",
        "Острая опасность для ребёнка",  # any script's letters count
        "gevaar voor\nhet kind\tvannacht",  # newline and tab are text
    ],
)
def test_a_real_reason_in_any_script_is_accepted_and_sealed_stripped(
    journey: Journey, engine: Engine, vt: Actor, reason: str
) -> None:
    """The read succeeds; the sealed reason is the one given, stripped of outer spaces."""
    journey.opened()
    engine.break_glass(journey.case_id, actor=POLICE, reason=f"  {reason}  ")
    history = engine.history(journey.case_id, actor=vt)
    [used] = [e for e in history if e.event_type == "BreakGlassUsed"]
    assert used.details["reason"] == reason


def test_a_second_use_within_the_period_is_refused_until_it_ends(
    journey: Journey, engine: Engine, clock: ManualClock, vt: Actor
) -> None:
    """Once per 24 hours per professional and case: the refusal says from when, records
    nothing but the denied attempt, and after the period the glass breaks again (bg2)."""
    journey.opened()
    engine.break_glass(journey.case_id, actor=POLICE, reason=REASON)
    before = event_count(engine, journey.case_id, vt)
    clock.advance(hours=23)
    with pytest.raises(Refused) as refused:
        engine.break_glass(journey.case_id, actor=POLICE, reason=REASON)
    assert refused.value.rule == "break_glass_limit"
    assert "it may be broken again from 2026-03-03 09:00 UTC" in refused.value.message
    assert event_count(engine, journey.case_id, vt) == before
    assert denied_break_glass(engine, journey.case_id, vt) == ["Refused:break_glass_limit"]
    clock.advance(hours=1)
    engine.break_glass(journey.case_id, actor=POLICE, reason=REASON)
    assert [t.review_id for t in engine.review_tasks(actor=vt)] == ["bg1", "bg2"]


def test_the_limit_is_per_professional_and_per_case(
    journey: Journey, engine: Engine, vt: Actor
) -> None:
    """A colleague may still break the glass on the case, and the same officer on another."""
    journey.opened()
    first = journey.case_id
    engine.break_glass(first, actor=POLICE, reason=REASON)
    engine.break_glass(first, actor=COLLEAGUE, reason=REASON)
    second = journey.opened().case_id
    engine.break_glass(second, actor=POLICE, reason=REASON)
    tasks = [(t.case_id, t.review_id, t.used_by) for t in engine.review_tasks(actor=vt)]
    assert sorted(tasks) == sorted(
        [(first, "bg1", str(POLICE)), (first, "bg2", str(COLLEAGUE)), (second, "bg1", str(POLICE))]
    )


def test_one_professional_breaks_the_glass_on_three_cases_a_day_at_most(
    journey: Journey, engine: Engine, clock: ManualClock, vt: Actor
) -> None:
    """Gap A4 of the issue 12 audit: the same officer broke the glass on five other cases in
    one second. Now the fourth case of the day is refused with the rule and the reason,
    records no event and is logged denied; a colleague is not held back, and the next day
    the officer may again."""
    cases = [journey.opened().case_id for _ in range(5)]
    for case_id in cases[:3]:
        engine.break_glass(case_id, actor=POLICE, reason=REASON)
    before = event_count(engine, cases[3], vt)
    with pytest.raises(Refused) as refused:
        engine.break_glass(cases[3], actor=POLICE, reason=REASON)
    assert refused.value.rule == "break_glass_daily_limit"
    assert "broke the glass on 3 other case(s) today (2026-03-02)" in refused.value.message
    assert "break_glass.max_cases_per_day: 3" in refused.value.message
    assert event_count(engine, cases[3], vt) == before
    assert denied_break_glass(engine, cases[3], vt) == ["Refused:break_glass_daily_limit"]
    engine.break_glass(cases[3], actor=COLLEAGUE, reason=REASON)
    clock.advance(hours=14)  # 00:00 in Amsterdam (23:00 UTC): the region's next day
    engine.break_glass(cases[4], actor=POLICE, reason=REASON)
    used = sorted((t.case_id, t.used_by) for t in engine.review_tasks(actor=vt))
    expected = [(c, str(POLICE)) for c in (*cases[:3], cases[4])] + [(cases[3], str(COLLEAGUE))]
    assert used == sorted(expected)


def test_the_daily_limit_counts_uses_made_by_another_process(tmp_path: Path) -> None:
    """The uses are counted in the database (a keyed token per professional and day), so an
    engine started after three uses refuses the fourth case as the first would have."""
    settings = Settings(home=tmp_path / "home")
    initialise(settings)
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    vt = actor_of("vt-ijsselland", user="u-vt-01")
    engine = build(settings, clock=clock)
    cases = [engine.open_case(actor=vt, via="melding", summary="synthetic").case_id for _ in "abcd"]
    for case_id in cases[:3]:
        engine.break_glass(case_id, actor=POLICE, reason=REASON)
    engine.close()
    engine = build(settings, clock=clock)
    try:
        with pytest.raises(Refused, match="max_cases_per_day"):
            engine.break_glass(cases[3], actor=POLICE, reason=REASON)
    finally:
        engine.close()


def test_every_use_opens_exactly_one_review_and_a_refusal_none(clock: ManualClock) -> None:
    """A policy allowing two uses in two hours: two uses, two reviews; the third is refused
    until the first is two hours old."""
    policy = default_policy().model_copy(
        update={"break_glass": BreakGlassSettings(max_uses_per_case=2, period_hours=2)}
    )
    engine = memory_engine(policy=policy, clock=clock)
    try:
        vt = actor_of("vt-ijsselland", user="u-vt-01")
        case_id = engine.open_case(actor=vt, via="melding", summary="synthetic").case_id
        for count in (1, 2):
            engine.break_glass(case_id, actor=POLICE, reason=REASON)
            assert len(engine.review_tasks(actor=vt)) == count
            assert len(engine.deadlines(actor=vt, kind="break_glass_review")) == count
            clock.advance(hours=count % 2)  # uses at 09:00 and 10:00; the third at 10:00
        with pytest.raises(Refused, match="from 2026-03-02 11:00 UTC"):
            engine.break_glass(case_id, actor=POLICE, reason=REASON)
        assert len(engine.review_tasks(actor=vt)) == 2
    finally:
        engine.close()


def test_the_policy_file_sets_the_limit_and_refuses_nonsense() -> None:
    """The default file names the section; a period of 0 or a limit of 0 is refused."""
    assert default_policy().break_glass == BreakGlassSettings(max_uses_per_case=1, period_hours=24)
    text = default_policy_text()
    assert default_policy().break_glass.max_cases_per_day == 3
    for field in ("max_uses_per_case", "period_hours", "max_cases_per_day"):
        broken, replaced = re.subn(rf"\b{field}: \d+", f"{field}: 0", text)
        assert replaced == 1
        with pytest.raises(PolicyError, match=field):
            parse_policy(broken, source="policy.yaml")


def test_who_may_not_break_the_glass_is_told_so_before_the_reason_is_judged(
    journey: Journey, engine: Engine
) -> None:
    """An auditor with no reason at all still gets the role refusal, not a reason rule."""
    journey.opened()
    auditor = actor_of("vt-ijsselland", role=Role.auditor)
    with pytest.raises(NotAuthorised, match="cannot break the glass"):
        engine.break_glass(journey.case_id, actor=auditor, reason="")


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    """The HTTP API over the test's engine; the token is the police officer's."""

    def authenticate(token: str) -> Actor:
        if token != "pol":  # noqa: S105 - a test token, not a secret
            raise NotAuthorised("the token identifies nobody", actor="-")
        return POLICE

    with TestClient(create_app(engine, authenticate=authenticate)) as c:
        yield c


def test_over_http_no_reason_is_a_422_and_a_second_use_a_refusal(
    journey: Journey, client: TestClient
) -> None:
    """Ten zero-width spaces were a 200 (review L5): now 422 on the reason; a repeat is 422
    with the rule break_glass_limit."""
    journey.opened()
    path, auth = f"/cases/{journey.case_id}/break-glass", {"Authorization": "Bearer pol"}
    refused = client.post(path, json={"reason": "\u200b" * 10}, headers=auth)
    assert (refused.status_code, refused.json()["field"]) == (422, "reason")
    assert client.post(path, json={"reason": REASON}, headers=auth).status_code == 200
    again = client.post(path, json={"reason": REASON}, headers=auth)
    assert (again.status_code, again.json()["rule"]) == (422, "break_glass_limit")


def test_over_http_a_fourth_case_in_a_day_is_a_422_with_the_rule(
    journey: Journey, client: TestClient
) -> None:
    """The daily limit over HTTP: 422, rule break_glass_daily_limit, the reason in detail."""
    auth = {"Authorization": "Bearer pol"}
    cases = [journey.opened().case_id for _ in range(4)]
    for case_id in cases[:3]:
        ok = client.post(f"/cases/{case_id}/break-glass", json={"reason": REASON}, headers=auth)
        assert ok.status_code == 200, ok.text
    refused = client.post(f"/cases/{cases[3]}/break-glass", json={"reason": REASON}, headers=auth)
    assert (refused.status_code, refused.json()["rule"]) == (422, "break_glass_daily_limit")
    assert "max_cases_per_day" in refused.json()["detail"]


MISSING = "c-0000000000000000"


def test_a_junk_reason_answers_alike_for_an_existing_and_a_missing_case(
    journey: Journey, engine: Engine, client: TestClient, vt: Actor
) -> None:
    """Gap A6 of the issue 12 audit: a reason that is no text got 422 on an existing case and
    404 on a missing one, so it told which ids exist. Now the reason is judged before the case
    is looked up: the same 422 for both, each attempt logged denied (the missing one on the
    caseload, without its id); a real reason on a missing case is 404, logged the same way."""
    journey.opened()
    auth = {"Authorization": "Bearer pol"}
    answers = []
    for case_id in (journey.case_id, MISSING):
        answer = client.post(
            f"/cases/{case_id}/break-glass", json={"reason": "\u200b" * 10}, headers=auth
        )
        answers.append((answer.status_code, answer.text.replace(case_id, "<case>")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 422
    assert denied_break_glass(engine, journey.case_id, vt) == ["InvalidInput"]
    missing = client.post(f"/cases/{MISSING}/break-glass", json={"reason": REASON}, headers=auth)
    assert missing.status_code == 404
    caseload = [
        (e.actor, e.query, e.outcome, e.detail)
        for e in engine._access.entries(CASELOAD)  # no public reader for it
        if e.query == "break_glass"
    ]
    assert caseload == [
        (str(POLICE), "break_glass", "denied", "InvalidInput"),
        (str(POLICE), "break_glass", "denied", "NotFound"),
    ]
    assert not [e for e in engine._access.entries(CASELOAD) if MISSING in e.model_dump_json()]
