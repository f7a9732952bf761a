"""The journeys of the console in a real browser (Chromium through Playwright).

Veilig Thuis takes a melding through the veiligheidsbeoordeling to an overdracht; the
wijkteam accepts it in its inbox; a breached condition brings terugval; an auditor replays
the case to before the acceptance and verifies the ledger. The same journey runs with
JavaScript on and off (the console has no script, so nothing may depend on one), and its
main steps again by keyboard only. axe-core judges every page the journey shows (in the
run with JavaScript on: axe is a script; the pages are the same without it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from browser import SCREENSHOTS, needs_chromium, serious_violations, served
from console_support import Console

from phasedcare.domain.actors import Actor, Role
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock, actor_of
from support import CANARY_NAMES, Journey, handover

pytestmark = needs_chromium

VT = actor_of("vt-ijsselland")
WIJKTEAM = Actor(user="u-wt-01", organisation="wijkteam-zwolle", role=Role.professional)
AUDITOR = Actor(user="u-audit-01", organisation="vt-ijsselland", role=Role.auditor)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from browser import CHROMIUM  # noqa: PLC0415
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Professional:
    """One signed-in browser tab of one actor; every page it reaches is checked by axe."""

    def __init__(self, browser: Any, base: str, console: Console, actor: Actor, *, js: bool):
        self.context = browser.new_context(java_script_enabled=js, locale="nl-NL")
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.base, self.seen, self.axe = base, set[str](), js
        self.page.goto(f"{base}/console/aanmelden?code={console.links.issue(actor)}")
        self.checked()

    def checked(self, shot: str = "") -> None:
        """The page now shown has no serious or critical accessibility violation."""
        assert self.page.locator("html").get_attribute("lang") in ("nl", "en")
        key = self.page.url.split("?")[0]
        if self.axe and key not in self.seen:
            self.seen.add(key)
            assert serious_violations(self.page) == [], self.page.url
        if shot and os.environ.get("PHASEDCARE_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)

    def form(self, summary: str) -> Any:
        """The form under the disclosure ``summary``, opened."""
        details = self.page.locator("details", has=self.page.locator("summary", has_text=summary))
        details.locator("summary").click()
        return details.locator("form")

    def submit(self, form: Any) -> None:
        form.locator("button[type=submit]").click()
        self.checked()

    def fire(self, button: str, **choices: str) -> None:
        """Press an action of "Nu mogelijk", answering its questions first."""
        action = self.page.locator(
            "form.pc-action", has=self.page.get_by_role("button", name=button)
        )
        for label, value in choices.items():
            action.get_by_label(label).select_option(value)
        action.get_by_role("button", name=button).click()
        self.checked()

    def notice(self) -> str:
        return self.page.locator("[role=status]").first.inner_text()

    def close(self) -> None:
        self.context.close()


def _through_the_assessment(vt: Professional, today: str) -> str:
    """Veilig Thuis opens a melding, records the household, assesses it and proposes the
    overdracht to the wijkteam; returns the case id."""
    page = vt.page
    vt.checked("caseload")
    opening = vt.form("Nieuwe zaak")
    opening.get_by_label("Binnengekomen als").select_option("melding")
    opening.get_by_label("Samenvatting").fill("Synthetische melding: buren hoorden geschreeuw.")
    vt.submit(opening)
    case_id = page.url.rsplit("/", 1)[-1]
    assert "De zaak is geopend." in vt.notice()
    for role, name in (("slachtoffer", "Anna Voorbeeld"), ("pleger", "Bram Voorbeeld")):
        member = vt.form("Lid van het huishouden vastleggen")
        member.get_by_label("Rol").select_option(role)
        member.get_by_label("Naam").fill(name)
        vt.submit(member)
    vt.fire("Start veiligheidsbeoordeling")
    condition = vt.form("Veiligheidsvoorwaarde toevoegen")
    condition.get_by_label("Voorwaarde").fill("Geen contact tussen pleger en slachtoffer.")
    condition.get_by_label("Controleert").select_option("wijkteam-zwolle")
    condition.get_by_label("Controle elke (dagen)").fill("14")
    vt.submit(condition)
    risk = vt.form("Risicotaxatie vastleggen")
    risk.locator("[name=instrument]").fill("VT-triage")
    risk.get_by_label("Versie van het instrument").fill("2023")
    risk.get_by_label("Niveau").select_option("verhoogd")
    risk.get_by_label("Beoordeeld op").fill(today)
    vt.submit(risk)
    vt.fire("Start directe veiligheid")
    plan = vt.form("Veiligheidsplan vastleggen")
    plan.get_by_label("Afgesproken op").fill(today)
    vt.submit(plan)
    vt.fire(
        "Besluit: overdracht", **{"Acute onveiligheid": "false", "Structurele onveiligheid": "true"}
    )
    vt.checked("case")
    proposal = vt.form("Overdracht voorstellen")
    proposal.get_by_label("Naar organisatie").select_option("wijkteam-zwolle")
    proposal.get_by_label("Afspraak over monitoring").fill(
        "Veilig Thuis monitort na 3 en 12 maanden."
    )
    proposal.get_by_label("Samenvatting van het risico").fill(
        "Verhoogd risico, structureel onveilig."
    )
    proposal.get_by_label("Wettelijke grondslag").fill("art. 5.2.6 Wmo 2015")
    proposal.get_by_label("Huishouden is geïnformeerd").check()
    vt.submit(proposal)
    assert "Overdracht voorgesteld" in vt.notice()
    for link, shot in (("Verplichtingen", "obligations"), ("Noodtoegang", "breakglass")):
        page.get_by_role("link", name=link, exact=True).click()
        vt.checked(shot)
    page.get_by_role("link", name="Overdrachten").click()
    vt.checked()
    return case_id


def _accepted_by_the_wijkteam(wijkteam: Professional, case_id: str) -> None:
    page = wijkteam.page
    page.get_by_role("link", name="Overdrachten").click()
    wijkteam.checked("inbox")
    page.get_by_role("link", name=f"Bekijk h1 ({case_id})").click()
    wijkteam.checked("handover")
    assert page.get_by_label("Casusregisseur (gebruikers-id)").input_value() == WIJKTEAM.user
    page.get_by_role("button", name="Accepteren en regie overnemen").click()
    wijkteam.checked()
    assert "Overdracht geaccepteerd" in wijkteam.notice()


def _terugval_on_a_breach(wijkteam: Professional, case_id: str, today: str) -> None:
    page = wijkteam.page
    page.goto(f"{wijkteam.base}/console/zaken/{case_id}")
    wijkteam.checked()
    for status in ("met", "breached"):
        check = wijkteam.form("Controle van een voorwaarde vastleggen")
        check.get_by_label("Voorwaarde").select_option("c1")
        check.get_by_label("Stand").select_option(status)
        check.get_by_label("Waargenomen op").fill(today)
        wijkteam.submit(check)
        if status == "met":
            wijkteam.fire("naar stabiele veiligheid")
            assert "stabiele veiligheid" in page.locator(".pc-facts").inner_text()
    facts = page.locator(".pc-facts").inner_text()
    assert "directe veiligheid" in facts, facts
    assert "Fase gewijzigd" in page.locator(".pc-timeline").inner_text()
    assert (
        "geschonden"
        in page.locator(
            "#voorwaarden ~ table, section[aria-labelledby=voorwaarden]"
        ).first.inner_text()
    )


def _replayed_and_verified(auditor: Professional, engine: Engine, case_id: str) -> None:
    page = auditor.page
    page.get_by_role("link", name="Audit").click()
    auditor.checked("audit")
    note = page.locator("pre").inner_text()
    assert note.startswith("phasedcare/"), note  # the signed note: origin, size, root, ...
    assert "\n— phasedcare/" in note, note  # ... and its signature line
    page.get_by_role("textbox", name="Zaak").fill(case_id)
    page.get_by_role("button", name="Open").click()
    auditor.checked()
    history = engine.history(case_id, actor=AUDITOR)
    accepted = next(e.sequence for e in history if e.event_type == "HandoverAccepted")
    page.get_by_label("Na record").fill(str(accepted - 1))
    page.get_by_role("button", name="Toon").click()
    auditor.checked("replay")
    facts = page.locator(".pc-facts").inner_text()
    assert "vt-ijsselland" in facts, facts
    assert "h1: voorgesteld" in facts, facts
    page.get_by_role("link", name="Audit").click()
    page.get_by_role("button", name="Verifieer nu").click()
    auditor.checked("verified")
    assert "Het grootboek is intact." in page.locator("[role=status]").inner_text()
    page.get_by_role("link", name="Toegang per medewerker").click()
    page.get_by_label("Gebruikers-id").fill(WIJKTEAM.user)
    page.get_by_role("button", name="Toon").click()
    auditor.checked("employee")
    report = page.locator("table").inner_text()
    assert "read handover" in report, report
    assert case_id in report, report


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_a_melding_to_an_overdracht_accepted_a_terugval_and_an_audit(
    browser: Any, console: Console, engine: Engine, clock: ManualClock, js: bool
) -> None:
    today = engine.today().isoformat()
    with served(console.app) as base:
        vt = Professional(browser, base, console, VT, js=js)
        case_id = _through_the_assessment(vt, today)
        wijkteam = Professional(browser, base, console, WIJKTEAM, js=js)
        _accepted_by_the_wijkteam(wijkteam, case_id)
        _terugval_on_a_breach(wijkteam, case_id, today)
        auditor = Professional(browser, base, console, AUDITOR, js=js)
        _replayed_and_verified(auditor, engine, case_id)
        for tab in (vt, wijkteam, auditor):
            tab.close()
    assert engine.show(case_id, actor=VT).phase == "directe_veiligheid"
    assert engine.show(case_id, actor=VT).regie.organisation == "wijkteam-zwolle"


def _tab_to(page: Any, target: Any, *, limit: int = 400) -> None:
    """Press Tab until ``target`` has the focus (a keyboard user's only way there)."""
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} is not reachable by Tab")


def _accepted_by_keyboard(wijkteam: Professional, case_id: str) -> None:
    page = wijkteam.page
    for target in (
        page.get_by_role("link", name="Overdrachten"),
        page.get_by_role("link", name=f"Bekijk h1 ({case_id})"),
        page.get_by_role("button", name="Accepteren en regie overnemen"),
    ):
        _tab_to(page, target)
        with page.expect_navigation():
            page.keyboard.press("Enter")
    assert "Overdracht geaccepteerd" in wijkteam.notice()
    wijkteam.close()


def test_the_main_steps_by_keyboard_only(
    browser: Any, console: Console, engine: Engine, journey: Journey
) -> None:
    """Opening a case's page, recording a member, firing an action, and accepting a handover
    in the inbox: Tab, typing and Enter only, never the mouse."""
    journey_case = engine.open_case(actor=VT, via="melding").case_id
    handed = journey.in_directe_veiligheid().with_plan().case_id
    engine.handle(handover(handed, journey.wijkteam.organisation), actor=VT)
    with served(console.app) as base:
        vt = Professional(browser, base, console, VT, js=True)
        page = vt.page
        _tab_to(page, page.get_by_role("link", name=journey_case))
        with page.expect_navigation():
            page.keyboard.press("Enter")
        summary = page.locator("summary", has_text="Lid van het huishouden vastleggen")
        _tab_to(page, summary)
        page.keyboard.press("Enter")
        _tab_to(page, page.locator("#lid-role"))
        page.keyboard.type("slachtoffer")
        page.keyboard.press("Tab")
        page.keyboard.type("Anna Voorbeeld")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "Lid van het huishouden vastgelegd" in vt.notice()
        start = page.get_by_role("button", name="Start veiligheidsbeoordeling")
        _tab_to(page, start)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "veiligheidsbeoordeling" in page.locator(".pc-facts").inner_text()
        vt.close()
        _accepted_by_keyboard(
            Professional(browser, base, console, journey.wijkteam, js=True), handed
        )
    assert [m.name for m in engine.show(journey_case, actor=VT).members] == ["Anna Voorbeeld"]
    assert engine.show(handed, actor=VT).regie.organisation == journey.wijkteam.organisation
    assert engine.show(journey_case, actor=VT).vt_stage == "veiligheidsbeoordeling"


def test_after_sign_out_the_back_button_shows_no_name(
    browser: Any, console: Console, engine: Engine, journey: Journey
) -> None:
    """Pages are no-store: going back after signing out fetches again and meets the sign-in
    page, never a kept copy with the household's names."""
    case_id = journey.opened().case_id
    engine.record_member(case_id, actor=VT, role="slachtoffer", name=CANARY_NAMES[1])
    with served(console.app) as base:
        vt = Professional(browser, base, console, VT, js=True)
        page = vt.page
        page.goto(f"{base}/console/zaken/{case_id}")
        assert CANARY_NAMES[1] in page.content()
        page.get_by_role("button", name="Afmelden").click()
        page.wait_for_url("**/console/aanmelden")
        page.go_back()
        page.wait_for_load_state()
        assert CANARY_NAMES[1] not in page.content()
        assert "/console/aanmelden" in page.url
        vt.close()
