"""The typer application: ``phasedcare init | demo | case ... | deadlines | projections ...``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from phasedcare.cli.flows import flows_app, run_each_once
from phasedcare.cli.output import (
    console,
    emit_json,
    fail,
    listing,
    parse_moment,
    reporting_errors,
    say,
    table,
)
from phasedcare.config import load_settings
from phasedcare.domain.actors import Actor
from phasedcare.domain.deadlines import passed

if TYPE_CHECKING:
    from phasedcare.service.engine import Engine

__all__ = ["app"]

app = typer.Typer(
    name="phasedcare",
    help="Phased safety care: directe veiligheid, stabiele veiligheid, herstel.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
case_app = typer.Typer(help="Open, inspect and move household cases.", no_args_is_help=True)
projections_app = typer.Typer(help="Rebuild and check the read model.", no_args_is_help=True)
app.add_typer(case_app, name="case")
app.add_typer(projections_app, name="projections")


def _print_version(asked: bool) -> None:
    """``--version``: the installed package's version, then exit."""
    if asked:
        from importlib.metadata import version  # noqa: PLC0415 - only when asked

        console.print(f"phasedcare {version('phasedcare')}", highlight=False)
        raise typer.Exit


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Options before any command."""


app.add_typer(flows_app, name="flows")

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", envvar="PHASEDCARE_HOME", help="The phasedcare home folder."),
]
ActorOption = Annotated[
    str,
    typer.Option(
        "--actor",
        envvar="PHASEDCARE_ACTOR",
        help="Who acts, as user@organisation:role (e.g. u-vt-01@vt-ijsselland:professional).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CaseArg = Annotated[str, typer.Argument(help="The case id.")]
ReceivedAtOption = Annotated[
    str | None,
    typer.Option(
        "--received-at",
        help="When Veilig Thuis received the melding, ISO 8601 (2026-03-10T00:30; without an "
        "offset, the region's time zone); its deadlines count from it. Default: now.",
    ),
]


@contextmanager
def open_engine(home: Path | None) -> Iterator[Engine]:
    """The engine for the configured home, closed afterwards (errors: one line, an exit code)."""
    from phasedcare.bootstrap import build  # noqa: PLC0415 - keep `phasedcare --help` fast

    with reporting_errors():
        engine = build(load_settings(home=home), configure_logs=True, access_point="cli")
    try:
        yield engine
    finally:
        engine.close()


def parse_actor(text: str) -> Actor:
    """The actor from --actor / PHASEDCARE_ACTOR, or one clear error line."""
    if not text:
        fail("no actor: pass --actor user@organisation:role or set PHASEDCARE_ACTOR")
    try:
        return Actor.parse(text)
    except ValueError as exc:
        fail(str(exc))


@app.command()
def init(home: HomeOption = None) -> None:
    """Create the home folder, its config and policy files, and the database (idempotent)."""
    from phasedcare.bootstrap import initialise  # noqa: PLC0415 - keep `phasedcare --help` fast

    with reporting_errors():
        report = initialise(load_settings(home=home))
    console.print(f"phasedcare home: {report.home}")
    console.print(f"policy: {report.policy_file}")
    for path in report.created:
        console.print(f"created {path}")
    console.print("database is at the newest schema")


@app.command()
def demo(
    home: HomeOption = None,
    households: Annotated[int, typer.Option(min=5, max=500, help="How many households.")] = 12,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic region.")] = 7,
    flows: Annotated[
        bool,
        typer.Option(
            "--flows/--no-flows",
            help="Then run each flow once with embedded Prefect: the deadline sweep expires "
            "and escalates, the outbox drains, MDA++ is evaluated (about 15 s the first time).",
        ),
    ] = True,
) -> None:
    """Run a synthetic region through the phases and print a summary (synthetic people only)."""
    from phasedcare.bootstrap import initialise  # noqa: PLC0415 - keep `phasedcare --help` fast
    from phasedcare.cli.demo import run_demo  # noqa: PLC0415 - only this command needs it

    with reporting_errors():
        settings = load_settings(home=home)
        initialise(settings)
        run_demo(settings, households=households, seed=seed)
    if flows:
        console.print("running the flows once (embedded Prefect):")
        outcomes = run_each_once(settings.resolved_home)
        if not all(o.ok for o in outcomes):
            raise typer.Exit(1)


@case_app.command("open")
def case_open(
    via: Annotated[str, typer.Option(help="melding or advies.")] = "melding",
    melder_kind: Annotated[
        str, typer.Option(help="politie, professional, burger or anoniem.")
    ] = "professional",
    acute: Annotated[bool, typer.Option(help="An acute melding.")] = False,
    summary: Annotated[
        str, typer.Option(help="What was reported (sealed, never shown in lists).")
    ] = "",
    received_at: ReceivedAtOption = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open a case from a melding or an advies (Veilig Thuis)."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        result = engine.open_case(
            actor=who,
            via=via,
            melder_kind=melder_kind,
            acute=acute,
            summary=summary,
            received_at=parse_moment(received_at, engine.policy.zone),
        )
    if as_json:
        emit_json(result)
    else:
        console.print(result.case_id)


@case_app.command("list")
def case_list(
    phase: Annotated[str | None, typer.Option(help="Only cases in this phase.")] = None,
    organisation: Annotated[
        str | None, typer.Option(help="Only cases whose regie this organisation holds.")
    ] = None,
    overdue: Annotated[bool, typer.Option(help="Only cases with a deadline before today.")] = False,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """The caseload: phase, Veilig Thuis stage, regiehouder, next deadline and, for a melding
    waiting past its term, until when zicht op veiligheid is arranged (no names)."""
    from phasedcare.service.views import waiting_zicht  # noqa: PLC0415 - the engine's own

    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        rows = engine.list_cases(
            actor=who,
            phase=phase,
            organisation=organisation,
            deadline_before=engine.today() if overdue else None,
        )
        now, today = engine.now(), engine.today()
    listing(
        rows,
        as_json=as_json,
        title=f"{len(rows)} cases",
        columns=[
            "case",
            "phase",
            "Veilig Thuis",
            "regie",
            "casusregisseur",
            "next deadline",
            "kind",
            "waiting: zicht",
        ],
        row=lambda r: [
            r.case_id,
            r.phase,
            r.vt_stage,
            r.regie_organisation,
            r.casusregisseur,
            r.next_deadline,
            r.next_deadline_kind,
            waiting_zicht(r, today, now) or "",
        ],
    )


@case_app.command("show")
def case_show(
    case_id: CaseArg, actor: ActorOption = "", home: HomeOption = None, as_json: JsonOption = False
) -> None:
    """Everything about one case: phase, regie, members, safety plan, conditions, deadlines."""
    from phasedcare.cli.render import render_case  # noqa: PLC0415 - rendering is display-only

    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        view = engine.show(case_id, actor=who)
    if as_json:
        emit_json(view)
    else:
        render_case(view)


AcuteOption = Annotated[
    bool | None,
    typer.Option(
        "--acute-onveiligheid/--geen-acute-onveiligheid",
        help="Veiligheidstaxatie: acute onveiligheid yes or no (a VT decision after the VB).",
    ),
]
StructureelOption = Annotated[
    bool | None,
    typer.Option(
        "--structurele-onveiligheid/--geen-structurele-onveiligheid",
        help="Veiligheidstaxatie: structurele onveiligheid yes or no (a VT decision after the VB).",
    ),
]
GroundOption = Annotated[
    str | None,
    typer.Option(
        "--ground",
        help="The onderzoek's ground: directe_interventie_nodig, vermoeden_onzeker, "
        "ontkenning_of_weigering, te_weinig_informatie or anonimiteit_melder.",
    ),
]


@case_app.command("fire")
def case_fire(
    case_id: CaseArg,
    event: Annotated[str, typer.Argument(help="The chart event, e.g. naar_stabiele_veiligheid.")],
    chart: Annotated[str, typer.Option(help="phase or vt (Veilig Thuis).")] = "phase",
    reason: Annotated[
        str,
        typer.Option(
            help="Why (required for terugval, heropenen, einde bemoeienis, omzetten naar "
            "advies, scaling up and closing early)."
        ),
    ] = "",
    acute_onveiligheid: AcuteOption = None,
    structurele_onveiligheid: StructureelOption = None,
    ground: GroundOption = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fire a phase or Veilig Thuis event; a refusal says which rule failed."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        result = engine.fire(
            case_id,
            event,
            actor=who,
            chart=chart,
            reason=reason,
            acute_onveiligheid=acute_onveiligheid,
            structurele_onveiligheid=structurele_onveiligheid,
            onderzoek_ground=ground,
        )
        view = engine.show(case_id, actor=who)
    if as_json:
        emit_json(result)
    else:
        where = f"phase {view.phase}, Veilig Thuis {view.vt_stage}"
        say(f"{case_id}: {where} (sequence {result.sequence})")


@case_app.command("allowed")
def case_allowed(
    case_id: CaseArg, actor: ActorOption = "", home: HomeOption = None, as_json: JsonOption = False
) -> None:
    """Which events may fire now, and why the others may not."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        found = engine.allowed(case_id, actor=who)
    listing(
        found,
        as_json=as_json,
        title=f"events for {case_id}",
        columns=["chart", "event", "to", "allowed", "why not"],
        row=lambda o: [
            o.chart,
            o.event,
            o.target or "",
            "yes" if o.allowed else "no",
            "; ".join(o.reasons),
        ],
        style=lambda row: "green" if row[3] == "yes" else "dim",
    )


@case_app.command("history")
def case_history(
    case_id: CaseArg, actor: ActorOption = "", home: HomeOption = None, as_json: JsonOption = False
) -> None:
    """Every event of the case: when, who, under which policy version."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        entries = engine.history(case_id, actor=who)
    listing(
        entries,
        as_json=as_json,
        title=f"history of {case_id}",
        columns=["#", "at", "event", "actor", "policy"],
        row=lambda e: [
            e.sequence,
            e.at.isoformat(timespec="seconds"),
            e.event_type,
            e.actor,
            e.policy_version,
        ],
    )


@app.command()
def deadlines(
    overdue: Annotated[bool, typer.Option(help="Only deadlines passed before today.")] = False,
    kind: Annotated[
        str | None,
        typer.Option(
            help="veiligheidsbeoordeling, onderzoek, monitoring, condition_check, "
            "safety_plan_review, handover_response or huisverbod_hulp."
        ),
    ] = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deadlines earliest first, escalated ones included: what is due when, and who answers.

    Professionals outside Veilig Thuis see the deadlines their organisation must meet.
    """
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        rows = engine.deadlines(actor=who, overdue=overdue, kind=kind)
        now, today = engine.now(), engine.today()  # as the engine judges deadlines
        zone = engine.policy.zone
    late = {r: passed(r.due, r.due_at, today, now) for r in rows}
    if as_json:
        emit_json([{**asdict(r), "overdue": late[r]} for r in rows])
        return
    table(
        f"{len(rows)} deadlines",
        ["due", "case", "kind", "ref", "responsible", "overdue", "escalated"],
        [
            [
                r.due if r.due_at is None else f"{r.due_at.astimezone(zone):%Y-%m-%d %H:%M}",
                r.case_id,
                r.kind,
                r.ref,
                r.responsible,
                "OVERDUE" if late[r] else "",
                "escalated" if r.escalated else "",
            ]
            for r in rows
        ],
        style=lambda row: "bold red" if row[5] else "",
    )


@app.command()
def obligations(
    case: Annotated[
        str | None,
        typer.Option(
            "--case", help="One case: every obligation, open or ended (else the open ones)."
        ),
    ] = None,
    overdue: Annotated[bool, typer.Option(help="Only open ones past their due moment.")] = False,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Obligations: whose duty, by when, on what source, and how each ended.

    Without --case, the caseload's open obligations earliest due first (professionals outside
    Veilig Thuis see their organisation's); with it, every obligation of that case. --json
    adds each one's legal or policy source and the events that opened and ended it.
    """
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        if case is None:
            found = engine.open_obligations(actor=who, overdue=overdue)
        else:
            found = engine.obligations(case, actor=who, overdue=overdue)
    listing(
        found,
        as_json=as_json,
        title=f"{len(found)} obligations",
        columns=["due", "case", "obligation", "responsible", "status", "overdue"],
        row=lambda o: [
            o.due,
            o.case_id,
            o.id,
            o.responsible,
            o.status if o.ended is None else f"{o.status}: {o.ended_why}",
            "OVERDUE" if o.overdue else "",
        ],
        style=lambda row: "bold red" if row[5] else "",
    )


@projections_app.command("rebuild")
def projections_rebuild(
    home: HomeOption = None,
    check: Annotated[
        bool, typer.Option(help="Only compare rebuilt with live; exit 1 on a difference.")
    ] = False,
) -> None:
    """Rebuild the projection table from the events (or check that it matches them)."""
    with open_engine(home) as engine, reporting_errors():
        if check:
            differences = engine.projection_differences()
            for line in differences:
                say(line)
            if differences:
                raise typer.Exit(1)
            console.print("projections match the events")
            return
        count = engine.rebuild_projections()
    console.print(f"rebuilt {count} projection rows from the events")


@app.command()
def schemas(
    out: Annotated[Path, typer.Option(help="The folder to write into.")] = Path("schemas"),
    check: Annotated[
        bool, typer.Option(help="Only report drift; exit 1 when the files differ.")
    ] = False,
) -> None:
    """Write the JSON Schemas of events, commands and the policy file, and the API's OpenAPI
    document (or check them)."""
    from phasedcare.api.openapi import OPENAPI_FILE, openapi_document  # noqa: PLC0415
    from phasedcare.service.schemas import schema_differences, write_schemas  # noqa: PLC0415

    extra = {OPENAPI_FILE: openapi_document()}
    if check:
        differences = schema_differences(out, extra=extra)
        for line in differences:
            console.print(line)
        if differences:
            raise typer.Exit(1)
        console.print(f"{out} is in step with the code")
        return
    written = write_schemas(out, extra=extra)
    console.print(f"wrote {len(written)} schemas to {out}")


def _register_subcommands() -> None:
    """Import the modules that add commands to ``app`` and ``case_app``."""
    import phasedcare.cli.audit  # noqa: PLC0415 - registers commands on import
    import phasedcare.cli.cluster  # noqa: PLC0415 - registers commands on import
    import phasedcare.cli.handovers  # noqa: PLC0415 - registers commands on import
    import phasedcare.cli.importing  # noqa: PLC0415 - registers commands on import
    import phasedcare.cli.keys  # noqa: PLC0415 - registers commands on import
    import phasedcare.cli.record  # noqa: PLC0415 - registers commands on import
    import phasedcare.cli.retention  # noqa: PLC0415 - registers commands on import
    import phasedcare.cli.serve  # noqa: PLC0415 - registers commands on import
    import phasedcare.cli.simulate  # noqa: PLC0415 - registers commands on import
    import phasedcare.cli.witness  # noqa: F401, PLC0415 - registers commands on import


_register_subcommands()
