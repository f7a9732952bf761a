"""``phasedcare handover | mda | webhooks`` and ``case melding | vb | monitoring | huisverbod``.

Handovers of regie with the payload their receiver sees, the MDA++ entry criteria, the facts
Veilig Thuis records after a case is open, and an organisation's webhook subscriptions.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.panel import Panel

from phasedcare.cli.app import (
    ActorOption,
    AcuteOption,
    CaseArg,
    GroundOption,
    HomeOption,
    JsonOption,
    ReceivedAtOption,
    StructureelOption,
    app,
    case_app,
    open_engine,
    parse_actor,
)
from phasedcare.cli.output import (
    console,
    emit_json,
    fail,
    listing,
    parse_day,
    parse_moment,
    report_command,
    reporting_errors,
    safe_text,
    say,
    table,
)
from phasedcare.domain import commands as cmd
from phasedcare.errors import InvalidInput
from phasedcare.service.validation import make_command

if TYPE_CHECKING:
    from phasedcare.domain.actors import Actor
    from phasedcare.service.engine import Engine
    from phasedcare.service.ports import Subscription
    from phasedcare.service.views import CommandResult, HandoverPayloadView

__all__: list[str] = []

handover_app = typer.Typer(
    help="Propose, answer and inspect handovers of regie.", no_args_is_help=True
)
mda_app = typer.Typer(help="The MDA++ entry criteria of a case.", no_args_is_help=True)
webhooks_app = typer.Typer(
    help="Your organisation's webhook subscriptions and their deliveries.", no_args_is_help=True
)
app.add_typer(handover_app, name="handover")
app.add_typer(mda_app, name="mda")
app.add_typer(webhooks_app, name="webhooks")

HandoverArg = Annotated[str, typer.Argument(help="The handover id, e.g. h1.")]

_PAYLOAD_FLAGS = {
    "to_organisation": "--to",
    "safety_conditions": "--condition",
    "monitoring_agreement": "--monitoring",
    "risk_summary": "--risk",
    "legal_basis": "--legal-basis",
    "household_informed": "--household-informed or --household-not-informed REASON",
}
"""The flag that gives each required part of a handover's payload."""

_SHOWN_ONCE = (
    "This secret is shown only now: store it with your receiver, which verifies every "
    "delivery's signature with it. It cannot be shown again; unsubscribe and subscribe anew "
    "if it is lost."
)

# -- handovers -------------------------------------------------------------------------------


def _household(informed: bool, not_informed_reason: str | None) -> dict[str, Any]:
    """The household part of the payload; nothing when neither flag is given."""
    if informed and not_informed_reason is not None:
        fail("pass --household-informed or --household-not-informed REASON, not both")
    if informed:
        return {"household_informed": True}
    if not_informed_reason is None:
        return {}
    return {"household_informed": False, "household_not_informed_reason": not_informed_reason}


def _proposal(case_id: str, parts: dict[str, Any]) -> cmd.ProposeHandover:
    """The proposal from the parts given: a missing part is named with its flag, never defaulted."""
    given = {name: value for name, value in parts.items() if value not in (None, [])}
    try:
        return make_command(cmd.ProposeHandover, case_id=case_id, **given)
    except InvalidInput as exc:
        missing = [flag for name, flag in _PAYLOAD_FLAGS.items() if name not in given]
        fail(f"{exc.message} (pass {', '.join(missing)})" if missing else exc.message)


@handover_app.command("propose")
def handover_propose(
    case_id: CaseArg,
    to: Annotated[
        str | None, typer.Option("--to", help="The organisation that is to take regie.")
    ] = None,
    condition: Annotated[
        list[str] | None,
        typer.Option("--condition", help="A safety condition handed over, e.g. c1 (repeat)."),
    ] = None,
    monitoring: Annotated[
        str | None, typer.Option(help="The monitoring agreement: who checks what, and when.")
    ] = None,
    risk: Annotated[str | None, typer.Option(help="The risk summary the receiver needs.")] = None,
    legal_basis: Annotated[
        str | None, typer.Option(help="The basis for sharing, e.g. 'art. 5.2.6 Wmo 2015'.")
    ] = None,
    household_informed: Annotated[
        bool, typer.Option("--household-informed", help="The household was told.")
    ] = False,
    household_not_informed: Annotated[
        str | None,
        typer.Option(
            "--household-not-informed", metavar="REASON", help="Why the household was not told."
        ),
    ] = None,
    respond_by: Annotated[
        str | None, typer.Option(help="Answer by (YYYY-MM-DD); default from the policy.")
    ] = None,
    note: Annotated[str, typer.Option(help="A note to the receiver.")] = "",
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Propose handing regie over, with the payload: all the receiver will see of the case."""
    who = parse_actor(actor)
    parts = {
        "to_organisation": to,
        "safety_conditions": condition,
        "monitoring_agreement": monitoring,
        "risk_summary": risk,
        "legal_basis": legal_basis,
        **_household(household_informed, household_not_informed),
        "respond_by": parse_day(respond_by) if respond_by is not None else None,
        "note": note,
    }
    command = _proposal(case_id, parts)
    with open_engine(home) as engine, reporting_errors():
        result = engine.handle(command, actor=who)
    report_command(result, as_json)


@handover_app.command("accept")
def handover_accept(
    case_id: CaseArg,
    handover_id: HandoverArg,
    casusregisseur: Annotated[str, typer.Option(help="The user id who becomes casusregisseur.")],
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Accept a handover to your organisation: regie moves to it now."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        result = engine.accept_handover(
            case_id, actor=who, handover_id=handover_id, casusregisseur=casusregisseur
        )
    report_command(result, as_json)


@handover_app.command("reject")
def handover_reject(
    case_id: CaseArg,
    handover_id: HandoverArg,
    reason: Annotated[str, typer.Option(help="Why (the sender keeps regie).")],
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a handover to your organisation, with a reason; the sender keeps regie."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        result = engine.reject_handover(case_id, actor=who, handover_id=handover_id, reason=reason)
    report_command(result, as_json)


@handover_app.command("withdraw")
def handover_withdraw(
    case_id: CaseArg,
    handover_id: HandoverArg,
    reason: Annotated[str, typer.Option(help="Why it is withdrawn.")] = "",
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw a handover your organisation proposed; it keeps regie."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        result = engine.withdraw_handover(
            case_id, actor=who, handover_id=handover_id, reason=reason
        )
    report_command(result, as_json)


@handover_app.command("list")
def handover_list(
    status: Annotated[
        str | None,
        typer.Option(help="proposed, accepted, rejected, withdrawn, expired or escalated."),
    ] = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Handovers your organisation sends or receives (Veilig Thuis: all), by response date."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        rows = engine.handovers(actor=who, status=status)
    listing(
        rows,
        as_json=as_json,
        title=f"{len(rows)} handovers",
        columns=["case", "handover", "from", "to", "purpose", "status", "respond by"],
        row=lambda h: [
            h.case_id,
            h.handover_id,
            h.from_organisation,
            h.to_organisation,
            h.purpose,
            h.status,
            h.respond_by,
        ],
    )


@handover_app.command("show")
def handover_show(
    case_id: CaseArg,
    handover_id: HandoverArg,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """One handover's payload: what its receiver may see of the case, and all it may see."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        view = engine.handover(case_id, handover_id, actor=who)
    if as_json:
        emit_json(view)
    else:
        _render_payload(view)


def _render_payload(view: HandoverPayloadView) -> None:
    """Print a handover: who to whom, the agreements, the shared conditions, the plan."""
    informed = (
        "yes" if view.household_informed else f"no, because {view.household_not_informed_reason}"
    )
    header = safe_text(
        (view.from_organisation, "bold"),
        " -> ",
        (view.to_organisation, "bold"),
        f" ({view.purpose})   status ",
        (view.status, "bold"),
        f"\nproposed {view.proposed_at:%Y-%m-%d}   respond by {view.respond_by}",
    )
    title = safe_text(f"handover {view.handover_id} of case {view.case_id}")
    console.print(Panel(header, title=title))
    for label, text in (
        ("monitoring", view.monitoring_agreement),
        ("risk", view.risk_summary),
        ("legal basis", view.legal_basis),
        ("household informed", informed),
    ):
        say(f"{label}: {text}")
    table(
        "safety conditions handed over",
        ["id", "statement", "owner", "every (days)", "status"],
        [
            [c.condition_id, c.statement, c.owner, c.check_every_days, c.status]
            for c in view.safety_conditions
        ],
    )
    plan = view.plan_van_aanpak
    if plan is not None:
        say(
            f"plan van aanpak: {len(plan.members)} members, casusregisseur "
            f"{plan.casusregisseur}, criteria met: {', '.join(plan.criteria_met) or '-'}"
        )


# -- Veilig Thuis facts after opening ----------------------------------------------------------


@case_app.command("melding")
def case_melding(
    case_id: CaseArg,
    melder_kind: Annotated[
        str, typer.Option(help="politie, professional, burger or anoniem.")
    ] = "professional",
    melder_organisation: Annotated[
        str, typer.Option(help="The melder's organisation id, when known.")
    ] = "",
    acute: Annotated[bool, typer.Option(help="An acute melding.")] = False,
    summary: Annotated[
        str, typer.Option(help="What was reported (sealed, never shown in lists).")
    ] = "",
    received_at: ReceivedAtOption = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a new melding about a known household (vervolgmelding or hermelding)."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        result = engine.record_melding(
            case_id,
            actor=who,
            melder_kind=melder_kind,
            melder_organisation=melder_organisation,
            acute=acute,
            summary=summary,
            received_at=parse_moment(received_at, engine.policy.zone),
        )
    report_command(result, as_json)


@case_app.command("vb")
def case_vb(
    case_id: CaseArg,
    melding: Annotated[str, typer.Option(help="The vervolgmelding assessed: m2, m3, ...")],
    follow_up: Annotated[
        str,
        typer.Option(
            help="vervolgstappen_bij_veilig_thuis, overdracht, geen_vervolgstappen or "
            "omzetten_naar_advies."
        ),
    ],
    acute_onveiligheid: AcuteOption = None,
    structurele_onveiligheid: StructureelOption = None,
    reason: Annotated[
        str, typer.Option(help="Why (required for geen vervolgstappen, advies, scaling up).")
    ] = "",
    scale_up: Annotated[
        str | None,
        typer.Option(
            help="From overdracht or monitoring: besluit_onderzoek (with --ground), "
            "besluit_voorwaarden_en_vervolg or besluit_verzoek_rvdk."
        ),
    ] = None,
    ground: GroundOption = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Conclude a vervolgmelding's own veiligheidsbeoordeling: taxatie and follow-up."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        result = engine.handle(
            make_command(
                cmd.ConcludeVeiligheidsbeoordeling,
                case_id=case_id,
                melding_id=melding,
                acute_onveiligheid=acute_onveiligheid,
                structurele_onveiligheid=structurele_onveiligheid,
                follow_up=follow_up,
                reason=reason,
                scale_up=scale_up,
                onderzoek_ground=ground,
            ),
            actor=who,
        )
    report_command(result, as_json)


@case_app.command("zicht")
def case_zicht(
    case_id: CaseArg,
    melding: Annotated[str, typer.Option(help="The waiting melding: m1, m2, ...")],
    kept_by: Annotated[
        str, typer.Option(help="The organisation that keeps an eye on the household.")
    ],
    means: Annotated[
        str,
        typer.Option(
            help="contact_met_melder, contact_met_gezin, betrokken_professional or "
            "veiligheidsafspraken."
        ),
    ],
    until: Annotated[
        str, typer.Option(help="The last day it holds (YYYY-MM-DD; at most 28 days ahead).")
    ],
    note: Annotated[str, typer.Option(help="What was arranged (sealed).")] = "",
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record how zicht op veiligheid is kept while a melding waits for its
    veiligheidsbeoordeling (Veilig Thuis)."""
    who, day = parse_actor(actor), parse_day(until)
    with open_engine(home) as engine, reporting_errors():
        result = engine.organise_zicht(
            case_id,
            actor=who,
            melding_id=melding,
            kept_by=kept_by,
            means=means,
            until=day,
            note=note,
        )
    report_command(result, as_json)


@case_app.command("monitoring")
def case_monitoring(
    case_id: CaseArg,
    outcome: Annotated[str, typer.Option(help="veilig or onveilig (onveilig: terugval).")],
    checked_on: Annotated[
        str | None, typer.Option(help="When it was checked (YYYY-MM-DD); default today.")
    ] = None,
    note: Annotated[str, typer.Option(help="What the check found (sealed).")] = "",
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a Veilig Thuis monitoring moment after the handover."""
    who, day = parse_actor(actor), parse_day(checked_on)
    with open_engine(home) as engine, reporting_errors():
        result = engine.record_monitoring_check(
            case_id, actor=who, checked_on=day, outcome=outcome, note=note
        )
    report_command(result, as_json)


def _huisverbod_step(
    engine: Engine, case_id: str, who: Actor, step: str, day: date, against: str
) -> CommandResult:
    """Issue the huisverbod command of ``step`` (the flag that was given)."""
    if step == "--imposed-on":
        return engine.impose_huisverbod(case_id, actor=who, imposed_on=day, against=against)
    if step == "--extend-to":
        return engine.extend_huisverbod(case_id, actor=who, ends_on=day)
    return engine.record_huisverbod_help(case_id, actor=who, started_on=day)


@case_app.command("huisverbod")
def case_huisverbod(
    case_id: CaseArg,
    imposed_on: Annotated[
        str | None, typer.Option(help="A tijdelijk huisverbod was imposed on this day.")
    ] = None,
    extend_to: Annotated[
        str | None, typer.Option(help="The huisverbod is extended to end on this day.")
    ] = None,
    help_started: Annotated[
        str | None, typer.Option(help="Help started on this day during the huisverbod.")
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(help="With --imposed-on: the adult member it is imposed on (m1, m2, ...)."),
    ] = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a tijdelijk huisverbod, its extension, or the start of help (one flag, a date)."""
    who = parse_actor(actor)
    flags = {"--imposed-on": imposed_on, "--extend-to": extend_to, "--help-started": help_started}
    given = [(flag, text) for flag, text in flags.items() if text is not None]
    if len(given) != 1:
        fail("pass exactly one of --imposed-on, --extend-to or --help-started, with a date")
    [(step, text)] = given
    if (step == "--imposed-on") != (against is not None):
        fail("--against MEMBER goes with --imposed-on, and only with it")
    day = parse_day(text)
    with open_engine(home) as engine, reporting_errors():
        result = _huisverbod_step(engine, case_id, who, step, day, against or "")
    report_command(result, as_json)


# -- MDA++ -----------------------------------------------------------------------------------


@mda_app.command("criteria")
def mda_criteria(
    case_id: CaseArg, actor: ActorOption = "", home: HomeOption = None, as_json: JsonOption = False
) -> None:
    """The policy's MDA++ entry criteria weighed on the case today: met, and on what ground."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        results = engine.mda_criteria(case_id, actor=who)
        settings = engine.policy.mda
    if as_json:
        emit_json(results)
        return
    described = {c.id: c.description for c in settings.entry_criteria}
    table(
        f"MDA++ entry criteria of {case_id}",
        ["criterion", "description", "met", "ground"],
        [
            [r.criterion_id, described.get(r.criterion_id, ""), "yes" if r.met else "no", r.ground]
            for r in results
        ],
        style=lambda row: "green" if row[2] == "yes" else "dim",
    )
    met = sum(r.met for r in results)
    needed = settings.minimum_criteria_met
    console.print(f"{met} of {len(results)} met; MDA++ triage needs {needed}")


@mda_app.command("assess")
def mda_assess(
    case_id: CaseArg,
    met: Annotated[
        list[str] | None,
        typer.Option("--met", help="A criterion you judge met (repeat); none: none met."),
    ] = None,
    note: Annotated[str, typer.Option(help="Why (sealed).")] = "",
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record which MDA++ entry criteria you judge met (an assessment always counts)."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        result = engine.assess_mda_criteria(case_id, actor=who, met=list(met or []), note=note)
    report_command(result, as_json)


# -- webhooks --------------------------------------------------------------------------------


def _public(subscription: Subscription) -> dict[str, Any]:
    """A subscription as shown: never its wrapped secret or key id."""
    return {
        "subscription_id": subscription.subscription_id,
        "organisation": subscription.organisation,
        "url": subscription.url,
        "active": subscription.active,
        "created_at": subscription.created_at.isoformat(timespec="seconds"),
    }


def _print_secret(subscription: Subscription, secret: str, *, as_json: bool) -> None:
    if as_json:
        emit_json({**_public(subscription), "secret": secret})
    else:
        say(
            f"subscription {subscription.subscription_id} of {subscription.organisation} "
            f"at {subscription.url}\nsecret: {secret}"
        )
    typer.echo(f"warning: {_SHOWN_ONCE}", err=True)


@webhooks_app.command("subscribe")
def webhooks_subscribe(
    url: Annotated[str, typer.Option(help="The https URL that receives the events.")],
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Subscribe your organisation's endpoint; its signing secret is shown once, now."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        subscription, secret = engine.webhooks.subscribe(actor=who, url=url)
    _print_secret(subscription, secret, as_json=as_json)


@webhooks_app.command("rotate")
def webhooks_rotate(
    subscription_id: Annotated[str, typer.Argument(help="The subscription, e.g. sub_1a2b...")],
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """A new signing secret, shown once; for a day deliveries are signed with both."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        subscription, secret = engine.webhooks.rotate(actor=who, subscription_id=subscription_id)
    _print_secret(subscription, secret, as_json=as_json)


@webhooks_app.command("list")
def webhooks_list(
    actor: ActorOption = "", home: HomeOption = None, as_json: JsonOption = False
) -> None:
    """Your organisation's subscriptions, ended ones included (never their secrets)."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        found = [_public(s) for s in engine.webhooks.list(actor=who)]
    listing(
        found,
        as_json=as_json,
        title=f"{len(found)} webhook subscriptions",
        columns=["subscription", "url", "active", "created"],
        row=lambda s: [
            s["subscription_id"],
            s["url"],
            "yes" if s["active"] else "no",
            s["created_at"],
        ],
        style=lambda row: "" if row[2] == "yes" else "dim",
    )


@webhooks_app.command("unsubscribe")
def webhooks_unsubscribe(
    subscription_id: Annotated[str, typer.Argument(help="The subscription, e.g. sub_1a2b...")],
    actor: ActorOption = "",
    home: HomeOption = None,
) -> None:
    """End one of your organisation's subscriptions; its pending deliveries are not sent."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        engine.webhooks.unsubscribe(actor=who, subscription_id=subscription_id)
    console.print(f"subscription {subscription_id} ended")


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    status: Annotated[str | None, typer.Option(help="pending, delivered or dead.")] = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deliveries to your organisation's subscriptions, newest message first."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        found = engine.webhooks.deliveries(actor=who, status=status)
    listing(
        found,
        as_json=as_json,
        title=f"{len(found)} deliveries",
        columns=["message", "subscription", "event", "case", "status", "attempts", "last"],
        row=lambda d: [
            d.message_id,
            d.subscription_id,
            d.event_type,
            d.case_id,
            d.status,
            d.attempts,
            d.last_status if d.last_status is not None else d.last_error,
        ],
        style=lambda row: "bold red" if row[4] == "dead" else "",
    )
