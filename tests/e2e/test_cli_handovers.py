"""Handovers, deadlines, MDA++, Veilig Thuis facts and webhooks through the command line.

Each test gets a copy of one initialised home holding a case in directe veiligheid, seeded
through the Python API against the same files, so that only the commands under test run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasedcare.bootstrap import build, build_jobs
from phasedcare.cli.app import app
from phasedcare.config import load_settings
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock, actor_of

VT = "u-vt-01@vt-ijsselland:professional"
WIJKTEAM = "u-wt-01@wijkteam-zwolle:professional"
DEVENTER = "u-wd-01@wijkteam-deventer:professional"
WIJKTEAM_ADMIN = "u-int-01@wijkteam-zwolle:integration_admin"
DEVENTER_ADMIN = "u-int-02@wijkteam-deventer:integration_admin"
PUBLIC_HOOK = "https://93.184.215.14/in"  # a public address: no DNS lookup in the test
CASE = "c-directe"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"

PAYLOAD = (
    "--monitoring",
    "Veilig Thuis checks c1 at 3 and 12 months",
    "--risk",
    "verhoogd risico",
    "--legal-basis",
    "art. 5.2.6 Wmo 2015",
)


@contextmanager
def engine_at(home: Path, clock: ManualClock | None = None) -> Iterator[Engine]:
    """The Python API's engine over the CLI's home (closed afterwards)."""
    settings = load_settings(home=home)
    engine = build(settings) if clock is None else build(settings, clock=clock)
    try:
        yield engine
    finally:
        engine.close()


def seed_directe_veiligheid(engine: Engine, case_id: str) -> None:
    """A case with a child, conditions c1 and c2 for the wijkteam, risk hoog, in directe veiligheid."""
    vt = actor_of("vt-ijsselland", user="u-vt-01")
    engine.open_case(actor=vt, via="melding", summary="synthetic", case_id=case_id)
    engine.record_member(case_id, actor=vt, role="kind", name="Cato Voorbeeld")
    engine.fire(case_id, "start_veiligheidsbeoordeling", actor=vt, chart="vt")
    for number in (1, 2):
        engine.add_safety_condition(
            case_id,
            actor=vt,
            statement=f"Synthetic condition {number}",
            owner="wijkteam-zwolle",
            check_every_days=14,
        )
    today = datetime.now(UTC).date()
    engine.record_risk_assessment(
        case_id,
        actor=vt,
        instrument="LIRIK",
        instrument_version="2",
        level="hoog",
        assessed_on=today,
    )
    engine.fire(case_id, "start_directe_veiligheid", actor=vt)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised home with the seeded case, made once for this module."""
    folder = tmp_path_factory.mktemp("template") / "home"
    result = CliRunner().invoke(app, ["init", "--home", str(folder)])
    assert result.exit_code == 0, result.stderr
    with engine_at(folder) as engine:
        seed_directe_veiligheid(engine, CASE)
    return folder


@pytest.fixture
def home(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the template home, with the VT professional as actor."""
    folder = tmp_path / "home"
    shutil.copytree(template, folder)
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    monkeypatch.setenv("PHASEDCARE_ACTOR", VT)
    return folder


def cli(*args: str, actor: str = VT, code: int = 0) -> str:
    """Run the CLI in-process as ``actor``; assert its exit code; return stdout."""
    result = CliRunner().invoke(app, [*args, "--actor", actor])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout


def cli_json(*args: str, actor: str = VT) -> object:
    """Run a command with --json and parse what it prints."""
    return json.loads(cli(*args, "--json", actor=actor))


def cli_error(*args: str, actor: str = VT, code: int) -> str:
    """Run the CLI expecting a failure; return its single stderr line."""
    result = CliRunner().invoke(app, [*args, "--actor", actor])
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def event_count(home: Path) -> int:
    """How many case event records (not access-log entries) the home's database holds."""
    with sqlite3.connect(home / "phasedcare.db") as db:
        query = "select count(*) from event_records where case_id not like '%~%'"
        return int(db.execute(query).fetchone()[0])


def proposal(*extra: str, to: str = "wijkteam-zwolle") -> tuple[str, ...]:
    """The arguments proposing to hand CASE with condition c1 to ``to``, then ``extra``."""
    return ("handover", "propose", CASE, "--to", to, "--condition", "c1", *extra)


def propose(
    *extra: str, to: str = "wijkteam-zwolle", household: tuple[str, ...] = ("--household-informed",)
) -> str:
    """VT proposes a complete handover of CASE with condition c1; returns the handover id."""
    result = cli_json(*proposal(*PAYLOAD, *household, *extra, to=to))
    assert isinstance(result, dict)
    return str(result["created_id"])


# -- handovers ---------------------------------------------------------------------------------


def test_a_proposal_missing_payload_parts_names_them_with_their_flags(home: Path) -> None:
    """Missing payload parts exit 2 with one line naming them and their flags; nothing is written."""
    before = event_count(home)
    line = cli_error("handover", "propose", CASE, "--to", "wijkteam-zwolle", code=2)
    assert line == (
        "error: ProposeHandover is missing safety_conditions, monitoring_agreement, "
        "risk_summary, legal_basis, household_informed (pass --condition, --monitoring, --risk, "
        "--legal-basis, --household-informed or --household-not-informed REASON)"
    )
    line = cli_error(*proposal(*PAYLOAD), code=2)
    assert line.endswith(
        "household_informed (pass --household-informed or --household-not-informed REASON)"
    )
    both = ("--household-informed", "--household-not-informed", "safety first")
    line = cli_error(*proposal(*PAYLOAD, *both), code=2)
    assert line == "error: pass --household-informed or --household-not-informed REASON, not both"
    assert event_count(home) == before


def test_a_household_not_informed_needs_its_reason_and_keeps_it(home: Path) -> None:
    """--household-not-informed takes a reason, refused when empty and shown to the receiver."""
    line = cli_error(*proposal(*PAYLOAD, "--household-not-informed", ""), code=2)
    assert "household_not_informed_reason is required" in line
    handover_id = propose(
        household=("--household-not-informed", "telling them would endanger the child")
    )
    payload = cli_json("handover", "show", CASE, handover_id, actor=WIJKTEAM)
    assert isinstance(payload, dict)
    expected = (False, "telling them would endanger the child")
    assert expected == (payload["household_informed"], payload["household_not_informed_reason"])


def test_the_receiver_sees_the_payload_and_only_the_case_after_accepting(home: Path) -> None:
    """Before accepting the receiver reads the handover, not the case; accepting moves regie."""
    handover_id = propose("--respond-by", "2099-01-02", "--note", "graag snel")
    assert handover_id == "h1"
    payload = cli_json("handover", "show", CASE, handover_id, actor=WIJKTEAM)
    assert isinstance(payload, dict)
    assert (payload["from_organisation"], payload["to_organisation"], payload["status"]) == (
        "vt-ijsselland",
        "wijkteam-zwolle",
        "proposed",
    )
    assert payload["respond_by"] == "2099-01-02"
    assert payload["monitoring_agreement"] == "Veilig Thuis checks c1 at 3 and 12 months"
    assert [(c["condition_id"], c["statement"]) for c in payload["safety_conditions"]] == [
        ("c1", "Synthetic condition 1")
    ]
    shown = cli("handover", "show", CASE, handover_id, actor=WIJKTEAM)
    assert "legal basis: art. 5.2.6 Wmo 2015" in shown
    assert "household informed: yes" in shown
    assert "Synthetic condition 2" not in shown  # c2 was not handed over
    line = cli_error("case", "show", CASE, actor=WIJKTEAM, code=3)
    assert "sees only what its open handover shares" in line
    # an organisation with no part in the case is answered as for a case that does not exist
    assert "does not exist or you may not read it" in cli_error(
        "handover", "show", CASE, handover_id, actor=DEVENTER, code=4
    )
    listed = cli_json("handover", "list", actor=WIJKTEAM)
    assert isinstance(listed, list)
    assert [(h["case_id"], h["handover_id"], h["status"]) for h in listed] == [
        (CASE, "h1", "proposed")
    ]

    accepted = cli_json(
        "handover", "accept", CASE, handover_id, "--casusregisseur", "u-wt-01", actor=WIJKTEAM
    )
    assert isinstance(accepted, dict)
    assert accepted["events"] == ["HandoverAccepted"]
    case = cli_json("case", "show", CASE, actor=WIJKTEAM)
    assert isinstance(case, dict)
    assert (case["regie"]["organisation"], case["regie"]["casusregisseur"]) == (
        "wijkteam-zwolle",
        "u-wt-01",
    )
    assert cli_json("handover", "list", "--status", "proposed") == []


def test_a_rejected_or_withdrawn_handover_leaves_regie_with_the_sender(home: Path) -> None:
    """The receiver rejects with a reason, the sender withdraws its own: VT keeps regie."""
    first = propose()
    assert "only the receiving organisation answers" in cli_error(
        "handover", "reject", CASE, first, "--reason", "no capacity", code=3
    )
    cli("handover", "reject", CASE, first, "--reason", "no capacity", actor=WIJKTEAM)
    second = propose()
    assert cli_error("handover", "withdraw", CASE, first, code=5) == (
        "error: handover h1 is already rejected"
    )
    cli("handover", "withdraw", CASE, second, "--reason", "household moved")
    listed = cli_json("handover", "list")
    assert isinstance(listed, list)
    assert [(h["handover_id"], h["status"]) for h in listed] == [
        ("h1", "rejected"),
        ("h2", "withdrawn"),
    ]
    case = cli_json("case", "show", CASE)
    assert isinstance(case, dict)
    assert case["regie"]["organisation"] == "vt-ijsselland"
    assert "holds no regie" in cli_error("case", "show", CASE, actor=WIJKTEAM, code=3)


# -- deadlines ---------------------------------------------------------------------------------


def test_deadlines_overdue_lists_an_overdue_veiligheidsbeoordeling_escalated_or_not(
    home: Path,
) -> None:
    """A melding of 30 days ago is overdue; after the sweep escalates it, it is still listed."""
    long_ago = ManualClock(datetime.now(UTC) - timedelta(days=30))
    vt = actor_of("vt-ijsselland", user="u-vt-01")
    with engine_at(home, long_ago) as engine:
        engine.open_case(actor=vt, via="melding", case_id="c-oud")
    overdue = cli_json("deadlines", "--overdue")
    assert isinstance(overdue, list)
    assert [(d["case_id"], d["kind"], d["ref"], d["responsible"]) for d in overdue] == [
        ("c-oud", "veiligheidsbeoordeling", "vb", "vt-ijsselland")
    ]
    assert (overdue[0]["overdue"], overdue[0]["escalated"]) == (True, False)
    assert overdue[0]["due"] < datetime.now(UTC).date().isoformat()
    every = cli_json("deadlines")
    assert isinstance(every, list)
    assert {(d["case_id"], d["overdue"]) for d in every} >= {("c-oud", True), (CASE, False)}
    assert cli_json("deadlines", "--overdue", "--kind", "onderzoek") == []

    jobs = build_jobs(load_settings(home=home))
    try:
        report = jobs.sweep_deadlines()
    finally:
        jobs.close()
    assert [e.split(":")[:2] for e in report.escalated] == [["c-oud", "veiligheidsbeoordeling"]]
    after = cli_json("deadlines", "--overdue")
    assert isinstance(after, list)
    assert [(d["case_id"], d["overdue"], d["escalated"]) for d in after] == [("c-oud", True, True)]
    assert re.search(r"c-oud .*veiligheidsbeoordeling.*OVERDUE.*escalated", cli("deadlines"))
    assert cli_json("deadlines", "--overdue", actor=WIJKTEAM) == []


# -- Veilig Thuis facts after opening ----------------------------------------------------------


def test_a_new_melding_about_a_known_household_is_recorded(home: Path) -> None:
    """case melding records a MeldingReceived on the case; an unknown melder kind exits 2."""
    result = cli_json("case", "melding", CASE, "--melder-kind", "politie", "--acute")
    assert isinstance(result, dict)
    assert result["events"][0] == "MeldingReceived"
    assert cli_error("case", "melding", CASE, "--melder-kind", "buurman", code=2).startswith(
        "error: melder_kind: String should match pattern"
    )


def test_a_monitoring_check_outside_monitoring_is_refused_with_its_reason(home: Path) -> None:
    """The rule's reason passes through unchanged (exit 5); a bad outcome is bad input (exit 2)."""
    line = cli_error("case", "monitoring", CASE, "--outcome", "veilig", code=5)
    assert line == (
        "error: monitoring has not begun (the Veilig Thuis track is in veiligheidsbeoordeling): "
        "it begins when the overdracht is accepted or with voorwaarden en vervolg"
    )
    assert cli_error("case", "monitoring", CASE, "--outcome", "prima", code=2).startswith(
        "error: outcome: String should match pattern"
    )


def test_a_huisverbod_sets_the_help_deadline_until_help_starts(home: Path) -> None:
    """Imposed today: help is due; extended; help started: the deadline is gone."""
    today = datetime.now(UTC).date()
    cli("case", "member", CASE, "--role", "pleger", "--name", "Bram Voorbeeld")  # m2
    assert "is a child of the household" in cli_error(
        "case", "huisverbod", CASE, "--imposed-on", today.isoformat(), "--against", "m1", code=5
    )
    cli("case", "huisverbod", CASE, "--imposed-on", today.isoformat(), "--against", "m2")
    due = cli_json("deadlines", "--kind", "huisverbod_hulp")
    assert isinstance(due, list)
    assert [(d["case_id"], d["ref"], d["due"]) for d in due] == [
        (CASE, f"thv-{today}", (today + timedelta(days=10)).isoformat())
    ]
    extended = cli_json("case", "huisverbod", CASE, "--extend-to", str(today + timedelta(days=20)))
    assert isinstance(extended, dict)
    assert extended["events"] == ["HuisverbodExtended"]
    cli("case", "huisverbod", CASE, "--help-started", today.isoformat())
    assert cli_json("deadlines", "--kind", "huisverbod_hulp") == []
    assert "a huisverbod cannot lie in the future" in cli_error(
        "case",
        "huisverbod",
        CASE,
        "--imposed-on",
        str(today + timedelta(days=1)),
        "--against",
        "m2",
        code=5,
    )
    assert cli_error("case", "huisverbod", CASE, "--imposed-on", "2026-01-01", code=2) == (
        "error: --against MEMBER goes with --imposed-on, and only with it"
    )
    for flags in ([], ["--imposed-on", "2026-01-01", "--help-started", "2026-01-02"]):
        assert cli_error("case", "huisverbod", CASE, *flags, code=2) == (
            "error: pass exactly one of --imposed-on, --extend-to or --help-started, with a date"
        )


# -- MDA++ -------------------------------------------------------------------------------------


def test_mda_criteria_weigh_signals_and_assessments(home: Path) -> None:
    """Risk hoog is a signal; an assessment adds one; two met let VT propose MDA++ triage."""
    criteria = cli_json("mda", "criteria", CASE)
    assert isinstance(criteria, list)
    assert [(c["criterion_id"], c["ground"]) for c in criteria if c["met"]] == [
        ("hoge-kans-op-herhaling", "signal")
    ]
    line = cli_error(*proposal(*PAYLOAD, "--household-informed", to="mda-ijsselland"), code=5)
    assert line.endswith(
        "MDA++ triage needs 2 of the 5 entry criteria; met: hoge-kans-op-herhaling"
    )
    cli("mda", "assess", CASE, "--met", "structurele-onveiligheid", "--note", "three incidents")
    table = cli("mda", "criteria", CASE)
    assert re.search(r"structurele-onveiligheid .* yes .* assessed", table)
    assert "2 of 5 met; MDA++ triage needs 2" in table
    handover_id = propose(to="mda-ijsselland")
    payload = cli_json("handover", "show", CASE, handover_id)
    assert isinstance(payload, dict)
    assert payload["purpose"] == "mda_triage"
    assert payload["plan_van_aanpak"]["criteria_met"] == [
        "structurele-onveiligheid",
        "hoge-kans-op-herhaling",
    ]
    assert cli_error("mda", "assess", CASE, "--met", "onbekend", code=2).startswith(
        "error: unknown MDA++ criterion onbekend; the policy has: structurele-onveiligheid"
    )


# -- webhooks ----------------------------------------------------------------------------------


def test_webhooks_subscribe_list_deliveries_and_unsubscribe(home: Path) -> None:
    """The secret is shown once with a warning; lists never show it; deliveries are the org's own."""
    result = CliRunner().invoke(
        app, ["webhooks", "subscribe", "--url", PUBLIC_HOOK, "--json", "--actor", WIJKTEAM_ADMIN]
    )
    assert result.exit_code == 0, result.stderr
    made = json.loads(result.stdout)
    assert made["secret"].startswith("whsec_")
    assert (made["organisation"], made["url"], made["active"]) == (
        "wijkteam-zwolle",
        PUBLIC_HOOK,
        True,
    )
    assert "shown only now" in result.stderr
    subscription = made["subscription_id"]

    listed_text = cli("webhooks", "list", "--json", actor=WIJKTEAM) + cli(
        "webhooks", "list", actor=WIJKTEAM
    )
    assert made["secret"] not in listed_text
    assert "wrapped" not in listed_text
    assert json.loads(cli("webhooks", "list", "--json", actor=WIJKTEAM)) == [
        {key: made[key] for key in made if key != "secret"}
    ]
    assert cli_json("webhooks", "list") == []

    propose()
    deliveries = cli_json("webhooks", "deliveries", "--status", "pending", actor=WIJKTEAM)
    assert isinstance(deliveries, list)
    assert [(d["subscription_id"], d["case_id"], d["status"]) for d in deliveries] == [
        (subscription, CASE, "pending")
    ]
    assert deliveries[0]["event_type"].endswith("handover.proposed")
    assert cli_json("webhooks", "deliveries") == []  # VT has no subscription of its own

    assert "has no webhook subscription" in cli_error(
        "webhooks", "unsubscribe", subscription, actor=DEVENTER_ADMIN, code=4
    )
    assert "integration_admin" in cli_error(
        "webhooks", "unsubscribe", subscription, actor=WIJKTEAM, code=3
    )
    assert f"subscription {subscription} ended" in cli(
        "webhooks", "unsubscribe", subscription, actor=WIJKTEAM_ADMIN
    )
    [ended] = json.loads(cli("webhooks", "list", "--json", actor=WIJKTEAM))
    assert ended["active"] is False
    assert cli_json("webhooks", "deliveries", "--status", "pending", actor=WIJKTEAM) == []


def test_a_webhook_url_must_be_https_to_a_public_host(home: Path) -> None:
    """A plain-http or loopback URL is refused with its reason (exit 2); nothing is stored."""
    line = cli_error(
        "webhooks", "subscribe", "--url", "http://hooks.example/in", actor=WIJKTEAM_ADMIN, code=2
    )
    assert line == "error: a webhook URL must use https (http only to a loopback host in tests)"
    line = cli_error(
        "webhooks", "subscribe", "--url", "https://127.1/in", actor=WIJKTEAM_ADMIN, code=2
    )
    assert line == "error: the webhook host is a loopback address"
    assert cli_json("webhooks", "list") == []


def test_a_professional_does_not_subscribe(home: Path) -> None:
    """Subscriptions are the integration admin's: a professional is refused (exit 3)."""
    line = cli_error("webhooks", "subscribe", "--url", PUBLIC_HOOK, actor=WIJKTEAM, code=3)
    assert "integration_admin" in line
    assert cli_json("webhooks", "list", actor=WIJKTEAM) == []


# -- the worked example of docs/cli.md ---------------------------------------------------------


def example_commands() -> list[str]:
    """The shell lines of the handover example in docs/cli.md, continuations joined."""
    page = DOCS.read_text(encoding="utf-8").split("## Worked example: handing over regie")[1]
    block = re.findall(r"```bash\n(.*?)```", page, re.DOTALL)[0]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_the_worked_example_in_the_docs_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/cli.md's example, line by line in-process: exports, $(...) captures, $VAR, all exit 0."""
    monkeypatch.setenv("PHASEDCARE_HOME", str(tmp_path / "home"))
    outputs = []
    for line in example_commands():
        if line.startswith("export "):
            name, value = line.removeprefix("export ").split("=", 1)
            monkeypatch.setenv(name, value)
            continue
        capture = re.fullmatch(r"(\w+)=\$\((.*)\)", line)
        words = shlex.split(capture.group(2) if capture else line)
        assert words[0] == "phasedcare", line
        result = CliRunner().invoke(app, [os.path.expandvars(w) for w in words[1:]])
        assert result.exit_code == 0, (line, result.stdout, result.stderr)
        if capture:
            monkeypatch.setenv(capture.group(1), result.stdout.strip())
        outputs.append(result.stdout)
    assert any("monitoring: Veilig Thuis checks c1 at 3 and 12 months" in o for o in outputs)
    assert "regie wijkteam-zwolle (u-wt-01)" in outputs[-1]
