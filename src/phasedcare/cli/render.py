"""Rich rendering of a case for people at a terminal: data is shown as typed, never as markup."""

from __future__ import annotations

from rich.panel import Panel

from phasedcare.cli.output import console, safe_text, say, table
from phasedcare.service.views import CaseView

__all__ = ["render_case"]


def render_case(view: CaseView) -> None:
    """Print a case: the header, members, conditions, risk, handovers and deadlines."""
    regie = view.regie
    acute = " (acute)" if view.acute else ""
    flags = ", ".join(view.flags) or "-"
    header = safe_text(
        "phase ",
        (view.phase, "bold"),
        "   Veilig Thuis ",
        (view.vt_stage, "bold"),
        "   regie ",
        (regie.organisation, "bold"),
        f" ({regie.casusregisseur}) since {regie.since:%Y-%m-%d}\n"
        f"opened {view.opened_at:%Y-%m-%d} via {view.opened_via}{acute}   flags: {flags}   "
        f"policy {view.policy_version}   sequence {view.sequence}",
    )
    console.print(Panel(header, title=safe_text(f"case {view.case_id}")))
    table(
        "members",
        ["id", "role", "name", "born"],
        [[m.member_id, m.role, m.name, m.date_of_birth] for m in view.members],
    )
    _render_conclusion(view)
    _render_meldingen(view)
    plan = view.safety_plan
    if plan is not None:
        say(f"safety plan v{plan.version}, agreed {plan.agreed_on}")
    table(
        "safety conditions",
        ["id", "statement", "owner", "every (days)", "status", "on"],
        [
            [c.condition_id, c.statement, c.owner, c.check_every_days, c.status, c.status_on]
            for c in view.conditions
        ],
    )
    if view.risk_assessments:
        table(
            "risk assessments",
            ["id", "v", "instrument", "level", "on", "assessor"],
            [
                [
                    r.assessment_id,
                    r.record_version,
                    f"{r.instrument} {r.instrument_version}",
                    r.level,
                    r.assessed_on,
                    r.assessor,
                ]
                for r in view.risk_assessments
            ],
        )
    if view.handovers:
        table(
            "handovers",
            ["id", "from", "to", "respond by", "status"],
            [
                [h.handover_id, h.from_organisation, h.to_organisation, h.respond_by, h.status]
                for h in view.handovers
            ],
        )
    table(
        "deadlines",
        ["kind", "due", "what", "overdue"],
        [[d.kind, d.due, d.description, "OVERDUE" if d.overdue else ""] for d in view.deadlines],
        style=lambda row: "bold red" if row[3] else "",
    )


def _render_meldingen(view: CaseView) -> None:
    """Each melding: received when, acute, concluded or waiting, and zicht while it waits."""
    rows = []
    for m in view.meldingen:
        if m.concluded_at is not None:
            state = f"assessed {m.concluded_at:%Y-%m-%d}"
        else:
            state = "WAITING PAST ITS TERM" if m.waiting_past_term else "waiting"
        zicht = m.zicht
        kept = "-" if zicht is None else f"{zicht.kept_by}, {zicht.means}, until {zicht.until}"
        if m.zicht_organised is False:
            kept = "NONE" if zicht is None else f"ran out ({kept})"
        acute = "acute" if m.acute else ""
        rows.append([m.melding_id, f"{m.received_at:%Y-%m-%d %H:%M}", acute, state, kept])
    table(
        "meldingen",
        ["melding", "received (UTC)", "", "veiligheidsbeoordeling", "zicht op veiligheid"],
        rows,
        style=lambda row: "bold red" if row[3] == "WAITING PAST ITS TERM" else "",
    )


def _yes_no(judgement: bool | None) -> str:
    return "not recorded" if judgement is None else ("yes" if judgement else "no")


def _render_conclusion(view: CaseView) -> None:
    """The veiligheidsbeoordeling's conclusion: the veiligheidstaxatie and the follow-up."""
    vb = view.veiligheidsbeoordeling
    if vb is None:
        return
    ground = f", ground {vb.onderzoek_ground}" if vb.onderzoek_ground else ""
    say(
        f"veiligheidsbeoordeling concluded {vb.decided_at:%Y-%m-%d}: acute onveiligheid "
        f"{_yes_no(vb.acute_onveiligheid)}, structurele onveiligheid "
        f"{_yes_no(vb.structurele_onveiligheid)}; follow-up {vb.follow_up} "
        f"({vb.outcome}{ground})"
    )
