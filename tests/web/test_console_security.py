"""The console against the outsider, the other organisation and the confused professional:
sign-in links, sessions, CSRF, another organisation's case, and no name where it may not be."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import structlog
from console_support import Console, csrf_of
from fastapi.testclient import TestClient

from phasedcare.domain.actors import Actor, Role
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock
from phasedcare.web.pages import COOKIE, CSP
from phasedcare.web.sessions import IDLE_SECONDS, is_loopback
from support import CANARY_NAMES, Journey

SignIn = Callable[[Actor], TestClient]
POLITIE = Actor(user="u-po-01", organisation="politie-ijsselland", role=Role.professional)


def _entries(engine: Engine, case_id: str, vt: Actor) -> list[tuple[str, str, str, str]]:
    return [
        (e.actor, e.action, e.query, e.outcome) for e in engine.access_history(case_id, actor=vt)
    ]


def test_a_sign_in_link_signs_in_once_and_only_from_loopback(console: Console, vt: Actor) -> None:
    code = console.links.issue(vt)
    outsider = TestClient(console.app, client=("203.0.113.7", 50000))
    refused = outsider.get(f"/console/aanmelden?code={code}", follow_redirects=False)
    assert refused.status_code == 401
    assert "loopback" in refused.text
    assert COOKIE not in refused.cookies
    browser = console.client()
    first = browser.get(f"/console/aanmelden?code={code}", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/console/"
    again = console.client().get(f"/console/aanmelden?code={code}", follow_redirects=False)
    assert again.status_code == 401
    assert "used already" in again.text


def test_a_link_expires_and_so_does_an_idle_session(
    console: Console, clock: ManualClock, vt: Actor, signed_in: SignIn
) -> None:
    code = console.links.issue(vt)
    clock.advance(days=2)
    late = console.client().get(f"/console/aanmelden?code={code}", follow_redirects=False)
    assert late.status_code == 401
    assert "expired" in late.text
    browser = signed_in(vt)
    assert browser.get("/console/", follow_redirects=False).status_code == 200
    clock.now += timedelta(seconds=IDLE_SECONDS + 1)
    idle = browser.get("/console/", follow_redirects=False)
    assert idle.status_code == 303
    assert idle.headers["location"] == "/console/aanmelden"


def test_the_cookie_is_httponly_strict_and_limited_to_the_console(
    console: Console, vt: Actor
) -> None:
    response = console.client().get(
        f"/console/aanmelden?code={console.links.issue(vt)}", follow_redirects=False
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "SameSite=strict", "Path=/console"):
        assert flag.lower() in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http on loopback; https sets Secure
    secure = TestClient(console.app, base_url="https://127.0.0.1", client=("127.0.0.1", 1))
    over_https = secure.get(
        f"/console/aanmelden?code={console.links.issue(vt)}", follow_redirects=False
    )
    assert "secure" in over_https.headers["set-cookie"].lower()


def test_a_planted_session_id_never_becomes_a_signed_in_one(console: Console, vt: Actor) -> None:
    """Session fixation: a cookie set before sign-in is replaced, and worth nothing after."""
    browser = console.client()
    browser.cookies.set(COOKIE, "planted-by-an-attacker", path="/console")
    response = browser.get(
        f"/console/aanmelden?code={console.links.issue(vt)}", follow_redirects=False
    )
    issued = response.cookies.get(COOKIE)
    assert issued is not None
    assert issued != "planted-by-an-attacker"
    attacker = console.client()
    attacker.cookies.set(COOKIE, "planted-by-an-attacker", path="/console")
    assert attacker.get("/console/", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session_for_good(signed_in: SignIn, vt: Actor) -> None:
    browser = signed_in(vt)
    cookie = browser.cookies.get(COOKIE)
    page = browser.get("/console/").text
    out = browser.post("/console/afmelden", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert out.status_code == 303
    browser.cookies.set(COOKIE, cookie or "", path="/console")  # the old cookie, replayed
    assert browser.get("/console/", follow_redirects=False).status_code == 303


def test_a_form_without_the_csrf_token_is_refused_changes_nothing_and_is_logged(
    engine: Engine, journey: Journey, vt: Actor, signed_in: SignIn
) -> None:
    case_id = journey.opened().case_id
    browser = signed_in(vt)
    before = engine.show(case_id, actor=vt).sequence
    for token in ("", "not-the-token"):
        response = browser.post(
            f"/console/zaken/{case_id}/acties/lid",
            data={"csrf": token, "role": "kind", "name": "Cato Voorbeeld"},
        )
        assert response.status_code == 403
        assert "CSRF" in response.text
    assert engine.show(case_id, actor=vt).sequence == before
    refused = [e for e in _entries(engine, case_id, vt) if e[3] == "refused"]
    assert [(e[1], e[2]) for e in refused] == [("command", "lid"), ("command", "lid")]


def test_another_organisations_case_is_missing_and_the_probe_is_logged(
    engine: Engine, journey: Journey, vt: Actor, signed_in: SignIn
) -> None:
    case_id = journey.opened().with_members().case_id
    police = signed_in(POLITIE)
    other = police.get(f"/console/zaken/{case_id}")
    missing = police.get("/console/zaken/c-0000000000000000")
    assert other.status_code == missing.status_code == 404
    assert "Voorbeeld" not in other.text
    denied = [e for e in _entries(engine, case_id, vt) if e[0] == str(POLITIE)]
    assert denied == [(str(POLITIE), "read", "show", "denied")]
    for path in (
        f"/console/zaken/{case_id}~access",
        "/console/zaken/..%2f..",
        "/console/zaken/%20",
    ):
        assert police.get(path).status_code == 404


def test_names_are_on_the_page_only_never_in_a_url_a_log_line_or_a_cache(
    engine: Engine, journey: Journey, vt: Actor, signed_in: SignIn
) -> None:
    case_id = journey.opened().case_id
    canary = CANARY_NAMES[0]
    browser = signed_in(vt)
    page = browser.get(f"/console/zaken/{case_id}").text
    with structlog.testing.capture_logs() as logs:
        added = browser.post(
            f"/console/zaken/{case_id}/acties/lid",
            data={"csrf": csrf_of(page), "role": "slachtoffer", "name": canary},
            follow_redirects=False,
        )
        assert added.status_code == 303
        assert canary not in added.headers["location"]
        shown = browser.get(added.headers["location"])
    assert canary in shown.text
    assert canary not in repr(logs)
    assert shown.headers["cache-control"] == "no-store"
    assert shown.headers["content-security-policy"] == CSP
    assert "<script" not in shown.text.lower()
    assert [r.url for r in shown.history] == []


def test_a_refused_command_is_shown_in_place_and_changes_nothing(
    engine: Engine, journey: Journey, vt: Actor, signed_in: SignIn
) -> None:
    case_id = journey.opened().case_id
    browser = signed_in(vt)
    page = browser.get(f"/console/zaken/{case_id}").text
    before = engine.show(case_id, actor=vt).sequence
    fired = browser.post(
        f"/console/zaken/{case_id}/acties/gebeurtenis",
        data={"csrf": csrf_of(page), "chart": "phase", "event": "start_directe_veiligheid"},
    )
    assert fired.status_code == 422
    assert "Geweigerd, er is niets vastgelegd" in fired.text
    assert "no household members recorded" in fired.text
    engine.record_member(case_id, actor=vt, role="pleger", name="Bram Voorbeeld")  # a colleague
    before += 1
    stale = browser.post(
        f"/console/zaken/{case_id}/acties/lid",
        data={
            "csrf": csrf_of(page),
            "role": "kind",
            "name": "Cato Voorbeeld",
            "versie": before - 1,
        },
    )
    assert stale.status_code == 412  # the form was of the page before the colleague's write
    assert "Cato Voorbeeld" not in stale.text
    bad = browser.post(
        f"/console/zaken/{case_id}/acties/voorwaarde",
        data={
            "csrf": csrf_of(page),
            "statement": "x",
            "owner": "wijkteam-zwolle",
            "check_every_days": "veel",
        },
    )
    assert bad.status_code == 422
    assert "check_every_days" in bad.text
    assert engine.show(case_id, actor=vt).sequence == before


def test_an_unknown_action_or_a_form_flood_is_refused_plainly(
    journey: Journey, vt: Actor, signed_in: SignIn
) -> None:
    case_id = journey.opened().case_id
    browser = signed_in(vt)
    csrf = csrf_of(browser.get("/console/").text)
    assert (
        browser.post(f"/console/zaken/{case_id}/acties/wis-alles", data={"csrf": csrf}).status_code
        == 404
    )
    flood = "&".join(f"f{i}=x" for i in range(500))
    response = browser.post(
        f"/console/zaken/{case_id}/acties/lid",
        content=flood.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("localhost", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_is_an_address_not_a_name(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_break_glass_needs_a_real_reason_shows_the_case_read_only_and_is_reviewed(
    engine: Engine, journey: Journey, vt: Actor, signed_in: SignIn
) -> None:
    case_id = journey.opened().with_members().case_id
    police = signed_in(POLITIE)
    csrf = csrf_of(police.get("/console/noodtoegang").text)
    junk = police.post(
        "/console/noodtoegang", data={"csrf": csrf, "zaak": case_id, "reden": "\u200b" * 12}
    )
    assert junk.status_code == 422
    assert "Voorbeeld" not in junk.text
    reason = "Acute zorg om een kind; Veilig Thuis is buiten kantooruren niet bereikbaar."
    opened = police.post(
        "/console/noodtoegang", data={"csrf": csrf, "zaak": case_id, "reden": reason}
    )
    assert opened.status_code == 200
    assert "noodtoegang" in opened.text
    assert "Anna Voorbeeld" in opened.text
    assert 'action="/console/zaken/' not in opened.text  # read only: no form of the case
    [task] = engine.review_tasks(actor=vt)
    assert task.used_by == str(POLITIE)
    reviewer = signed_in(vt)
    queue = reviewer.get("/console/noodtoegang").text
    assert task.review_id in queue
    reviewed = reviewer.post(
        f"/console/zaken/{case_id}/acties/noodtoegang-beoordelen",
        data={
            "csrf": csrf_of(queue),
            "review_id": task.review_id,
            "outcome": "justified",
            "note": "",
        },
        follow_redirects=False,
    )
    assert reviewed.status_code == 303
    assert reviewed.headers["location"] == "/console/noodtoegang"
    assert engine.review_tasks(actor=vt) == []
    assert "Noodtoegang beoordeeld" in reviewer.get("/console/noodtoegang").text
