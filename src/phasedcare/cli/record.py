"""``phasedcare case member | plan | condition | check | waive | risk | incident | flag``: record
facts."""

from __future__ import annotations

from typing import Annotated

import typer

from phasedcare.cli.app import (
    ActorOption,
    CaseArg,
    HomeOption,
    JsonOption,
    case_app,
    open_engine,
    parse_actor,
)
from phasedcare.cli.output import (
    parse_day,
    report_command,
    reporting_errors,
)
from phasedcare.domain import commands as cmd
from phasedcare.service.validation import make_command

__all__: list[str] = []

DayOption = Annotated[
    str | None, typer.Option("--on", help="The date (YYYY-MM-DD); default today.")
]


@case_app.command("member")
def case_member(
    case_id: CaseArg,
    role: Annotated[str, typer.Option(help="slachtoffer, pleger, kind or overige_betrokkene.")],
    name: Annotated[str, typer.Option(help="The person's name (sealed; never listed).")],
    born: Annotated[str | None, typer.Option(help="Date of birth (YYYY-MM-DD).")] = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a member of the household."""
    who, born_on = parse_actor(actor), (parse_day(born) if born else None)
    with open_engine(home) as engine, reporting_errors():
        result = engine.record_member(
            case_id, actor=who, role=role, name=name, date_of_birth=born_on
        )
    report_command(result, as_json)


@case_app.command("plan")
def case_plan(
    case_id: CaseArg,
    agreed_on: Annotated[
        str | None, typer.Option(help="When it was agreed (YYYY-MM-DD); default today.")
    ] = None,
    summary: Annotated[str, typer.Option(help="What the plan holds (sealed).")] = "",
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record an agreed safety plan (a new version each time)."""
    who, day = parse_actor(actor), parse_day(agreed_on)
    with open_engine(home) as engine, reporting_errors():
        result = engine.agree_safety_plan(case_id, actor=who, agreed_on=day, summary=summary)
    report_command(result, as_json)


@case_app.command("condition")
def case_condition(
    case_id: CaseArg,
    statement: Annotated[str, typer.Option(help="What must at least happen (sealed).")],
    owner: Annotated[str, typer.Option(help="The organisation that checks it.")],
    every: Annotated[int, typer.Option(help="Check every this many days.")],
    method: Annotated[str, typer.Option(help="How it is checked.")] = "",
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a safety condition (veiligheidsvoorwaarde)."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        result = engine.add_safety_condition(
            case_id,
            actor=who,
            statement=statement,
            owner=owner,
            check_every_days=every,
            check_method=method,
        )
    report_command(result, as_json)


@case_app.command("check")
def case_check(
    case_id: CaseArg,
    condition_id: Annotated[str, typer.Argument(help="The condition, e.g. c1.")],
    status: Annotated[str, typer.Option(help="met, breached or unknown.")],
    on: DayOption = None,
    evidence: Annotated[str, typer.Option(help="What the check found (sealed).")] = "",
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a check of a safety condition; a breach past directe veiligheid fires terugval."""
    who, day = parse_actor(actor), parse_day(on)
    with open_engine(home) as engine, reporting_errors():
        result = engine.record_condition_status(
            case_id,
            actor=who,
            condition_id=condition_id,
            status=status,
            observed_on=day,
            evidence=evidence,
        )
    report_command(result, as_json)


@case_app.command("waive")
def case_waive(
    case_id: CaseArg,
    obligation_id: Annotated[
        str, typer.Argument(help="The open obligation, as listed (e.g. monitoring:m12).")
    ],
    reason: Annotated[
        str, typer.Option(help="Why it no longer applies (sealed; 10 letters or more).")
    ],
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Waive one open obligation with the reason it no longer applies (it ends as moot)."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        result = engine.waive_obligation(
            case_id, actor=who, obligation_id=obligation_id, reason=reason
        )
    report_command(result, as_json)


@case_app.command("risk")
def case_risk(
    case_id: CaseArg,
    instrument: Annotated[str, typer.Option(help="e.g. RiHG, LIRIK, CARE-NL, VT-triage.")],
    instrument_version: Annotated[str, typer.Option(help="The instrument's version.")],
    level: Annotated[str, typer.Option(help="laag, verhoogd, hoog or acuut.")],
    on: DayOption = None,
    revises: Annotated[
        str | None, typer.Option(help="The assessment id this revises, e.g. r1.")
    ] = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a risk assessment (or a new version of one)."""
    who, day = parse_actor(actor), parse_day(on)
    with open_engine(home) as engine, reporting_errors():
        result = engine.record_risk_assessment(
            case_id,
            actor=who,
            instrument=instrument,
            instrument_version=instrument_version,
            level=level,
            assessed_on=day,
            assessment_id=revises,
        )
    report_command(result, as_json)


@case_app.command("incident")
def case_incident(
    case_id: CaseArg,
    on: DayOption = None,
    description: Annotated[str, typer.Option(help="What happened (sealed).")] = "",
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a new incident; past directe veiligheid it fires terugval."""
    who, day = parse_actor(actor), parse_day(on)
    with open_engine(home) as engine, reporting_errors():
        result = engine.record_incident(
            case_id, actor=who, occurred_on=day, description=description
        )
    report_command(result, as_json)


@case_app.command("flag")
def case_flag(
    case_id: CaseArg,
    group: Annotated[
        str,
        typer.Argument(
            help="intieme_terreur, eergerelateerd_geweld, mensenhandel, "
            "ouderenmishandeling or complexe_scheiding."
        ),
    ],
    end: Annotated[
        str | None,
        typer.Option("--end", help="End the flag, with this reason (10 letters or more)."),
    ] = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Flag the case for a specific group (changes routing; see docs/case-model.md), or end
    the flag with --end REASON."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        command: cmd.CaseCommand = (
            make_command(cmd.FlagSpecificGroup, case_id=case_id, flag=group)
            if end is None
            else make_command(cmd.EndSpecificGroup, case_id=case_id, flag=group, reason=end)
        )
        result = engine.handle(command, actor=who)
    report_command(result, as_json)
