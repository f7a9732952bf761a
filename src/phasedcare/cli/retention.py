"""``phasedcare retention``: legal holds and crypto-shredding of expired cases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from phasedcare.cli.app import (
    ActorOption,
    CaseArg,
    HomeOption,
    JsonOption,
    app,
    open_engine,
    parse_actor,
)
from phasedcare.cli.output import console, emit_json, reporting_errors, say, table
from phasedcare.domain import commands as cmd
from phasedcare.service.validation import make_command

__all__: list[str] = []

retention_app = typer.Typer(
    help="Retention periods, legal holds and erasure.", no_args_is_help=True
)
app.add_typer(retention_app, name="retention")

ReasonOption = Annotated[str, typer.Option(help="Why (recorded, sealed).")]


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option(help="Only report what would be erased.")] = False,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Destroy the data keys of closed cases whose retention has ended (crypto-shredding)."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        decisions = engine.run_retention(actor=who, dry_run=dry_run)
    if as_json:
        emit_json(decisions)
        return
    erased = "would be erased" if dry_run else "ERASED"
    table(
        f"retention ({len(decisions)} cases)",
        ["case", "keep until", "rule", "outcome"],
        [
            [d.case_id, d.keep_until or "-", d.rule or "-", erased if d.due else d.why_not]
            for d in decisions
        ],
    )
    console.print(f"{sum(d.due for d in decisions)} cases {erased.lower()}")


def _hold(command: cmd.Command, actor: str, home: Path | None) -> None:
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        result = engine.handle(command, actor=who)
    say(f"{result.case_id}: {', '.join(result.events)}")


@retention_app.command("hold")
def retention_hold(
    case_id: CaseArg, reason: ReasonOption, actor: ActorOption = "", home: HomeOption = None
) -> None:
    """Place a legal hold: the case is kept past its retention period."""
    with reporting_errors():
        command = make_command(cmd.PlaceLegalHold, case_id=case_id, reason=reason)
    _hold(command, actor, home)


@retention_app.command("release")
def retention_release(
    case_id: CaseArg, reason: ReasonOption, actor: ActorOption = "", home: HomeOption = None
) -> None:
    """Release a legal hold."""
    with reporting_errors():
        command = make_command(cmd.ReleaseLegalHold, case_id=case_id, reason=reason)
    _hold(command, actor, home)
