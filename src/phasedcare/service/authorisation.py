"""Who may do what: the one place where commands and reads are authorised.

Need to know: the organisation holding regie works on its case; Veilig Thuis of the region
works on the Veilig Thuis track and on what it monitors (members, conditions, risk,
incidents); the receiver of an open handover may read the case and answer the handover;
an organisation holding an active share reads the case until the share expires; a
professional without any of these may break the glass, with a reason Veilig Thuis reviews;
auditors read but never change. The CLI, the Python API and (later) HTTP all pass through
these functions.
"""

from __future__ import annotations

from datetime import date

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.case import CaseState, Share
from phasedcare.domain.policy import OrganisationKind, RegionalPolicy
from phasedcare.domain.share_decisions import BREAK_GLASS_MIN_REASON
from phasedcare.errors import NotAuthorised, NotFound

__all__ = [
    "authorise_break_glass",
    "authorise_command",
    "authorise_handover_read",
    "authorise_lookup",
    "authorise_read",
    "authorise_retention",
    "authorise_review_tasks",
    "known_actor",
]

_VT_MAY = (
    cmd.RecordMember,
    cmd.FlagSpecificGroup,
    cmd.AddSafetyCondition,
    cmd.RecordConditionStatus,
    cmd.RecordRiskAssessment,
    cmd.RecordIncident,
    cmd.ImposeHuisverbod,
    cmd.ExtendHuisverbod,
    cmd.RecordHuisverbodHelp,
    cmd.AssessMdaCriteria,
    cmd.GrantShare,
    cmd.RevokeShare,
)
_RECEIVER_ANSWERS = (cmd.AcceptHandover, cmd.RejectHandover)
_VT_ONLY = (
    cmd.PlaceLegalHold,
    cmd.ReleaseLegalHold,
    cmd.RecordMelding,
    cmd.RecordMonitoringCheck,
    cmd.ReviewBreakGlass,
)
_SYSTEM_ONLY = (cmd.ExpireHandover, cmd.EscalateDeadline, cmd.SignalMda)


def known_actor(actor: Actor, policy: RegionalPolicy) -> None:
    """Refuse an actor whose organisation the regional policy does not know."""
    try:
        policy.organisation(actor.organisation)
    except NotFound as exc:
        unknown = f"organisation {actor.organisation} is unknown in region {policy.region}"
        msg = f"{actor} is not authorised: {unknown}"
        raise NotAuthorised(msg, actor=str(actor)) from exc


def _is_vt(actor: Actor, policy: RegionalPolicy) -> bool:
    return policy.organisation(actor.organisation).kind is OrganisationKind.veilig_thuis


def _deny(actor: Actor, case_id: str | None, why: str) -> NotAuthorised:
    return NotAuthorised(f"{actor} is not authorised: {why}", actor=str(actor), case_id=case_id)


def authorise_command(
    actor: Actor, command: cmd.Command, case: CaseState | None, policy: RegionalPolicy
) -> None:
    """Raise NotAuthorised unless ``actor`` may issue ``command`` on ``case``."""
    known_actor(actor, policy)
    case_id = case.case_id if case else None
    if actor.role is Role.system:
        if not isinstance(command, _SYSTEM_ONLY):
            raise _deny(actor, case_id, "the system issues only expiries, escalations and signals")
        return
    if isinstance(command, _SYSTEM_ONLY):
        raise _deny(actor, case_id, "expiries, escalations and signals come from the sweeps")
    if actor.role is not Role.professional:
        raise _deny(actor, case_id, f"the role {actor.role} cannot change cases")
    if isinstance(command, cmd.OpenCase):
        if not _is_vt(actor, policy):
            raise _deny(actor, None, "meldingen and adviezen are opened by Veilig Thuis")
        return
    if case is None:  # pragma: no cover - the engine loads the case first
        raise _deny(actor, None, "no case")
    if not _may_change(actor, command, case, policy):
        raise _deny(actor, case.case_id, _why_not(command, case))


def _may_change(
    actor: Actor, command: cmd.Command, case: CaseState, policy: RegionalPolicy
) -> bool:
    org = actor.organisation
    if isinstance(command, _RECEIVER_ANSWERS):
        handover = case.handovers.get(command.handover_id)
        return handover is not None and handover.to_organisation == org
    if (isinstance(command, cmd.FireEvent) and command.chart == "vt") or isinstance(
        command, _VT_ONLY
    ):
        return _is_vt(actor, policy)
    if org == case.regie.organisation:
        return True
    return isinstance(command, _VT_MAY) and _is_vt(actor, policy)


_RESERVED_WHY: dict[type[cmd.Command], str] = {
    cmd.PlaceLegalHold: "only Veilig Thuis places and releases legal holds",
    cmd.ReleaseLegalHold: "only Veilig Thuis places and releases legal holds",
    cmd.RecordMelding: "only Veilig Thuis records new meldingen and monitoring checks",
    cmd.RecordMonitoringCheck: "only Veilig Thuis records new meldingen and monitoring checks",
    cmd.ReviewBreakGlass: "only Veilig Thuis reviews break-glass uses",
}


def _why_not(command: cmd.Command, case: CaseState) -> str:
    if isinstance(command, _RECEIVER_ANSWERS):
        return f"only the receiving organisation answers handover {command.handover_id}"
    if isinstance(command, cmd.FireEvent) and command.chart == "vt":
        return "only Veilig Thuis moves the Veilig Thuis track"
    reserved = _RESERVED_WHY.get(type(command))
    if reserved is not None:
        return reserved
    if isinstance(command, cmd.GrantShare | cmd.RevokeShare):
        return (
            f"shares of case {case.case_id} are granted and revoked by "
            f"{case.regie.organisation} (regie) or Veilig Thuis"
        )
    return f"{case.regie.organisation} holds regie over case {case.case_id}"


def authorise_retention(actor: Actor, policy: RegionalPolicy) -> None:
    """Only a Veilig Thuis professional (the records' controller) runs retention."""
    known_actor(actor, policy)
    if actor.role is not Role.professional or not _is_vt(actor, policy):
        raise _deny(actor, None, "retention is run by Veilig Thuis")


def authorise_lookup(actor: Actor, policy: RegionalPolicy) -> None:
    """Only Veilig Thuis professionals look up known households (to link a new melding)."""
    known_actor(actor, policy)
    if actor.role is not Role.professional or not _is_vt(actor, policy):
        raise _deny(actor, None, "known households are looked up by Veilig Thuis")


def authorise_read(actor: Actor, case: CaseState, policy: RegionalPolicy, *, today: date) -> str:
    """The legal basis on which ``actor`` may read ``case`` on ``today``; NotAuthorised when
    there is none (an expired or revoked share says so)."""
    known_actor(actor, policy)
    org = actor.organisation
    if actor.role is Role.auditor:
        return "auditor"
    if actor.role is Role.system:
        raise _deny(actor, case.case_id, "the system reads no cases through the read API")
    if org == case.regie.organisation:
        return "regie"
    if _is_vt(actor, policy) and actor.role is Role.professional:
        return "veilig_thuis"
    shares = [s for s in case.shares.values() if s.to_organisation == org]
    if any(s.active_on(today) for s in shares):
        return "share"
    if any(h.to_organisation == org for h in case.open_handovers):
        why = f"{org} sees only what its open handover shares (the handover view)"
        raise _deny(actor, case.case_id, why)
    if shares:
        raise _deny(actor, case.case_id, _share_ended(shares[-1]))
    raise _deny(actor, case.case_id, f"{org} holds no regie, handover or share for this case")


def _share_ended(share: Share) -> str:
    if share.revoked_at is not None:
        return f"share {share.share_id} was revoked on {share.revoked_at.date()}"
    return f"share {share.share_id} expired on {share.expires_on}"


def authorise_break_glass(
    actor: Actor, case: CaseState, policy: RegionalPolicy, *, today: date, reason: str
) -> None:
    """Refuse a break-glass read unless a professional without another basis gives a reason.

    Auditors and the system never break the glass; whoever may read already needs no glass.
    """
    known_actor(actor, policy)
    if actor.role is not Role.professional:
        raise _deny(actor, case.case_id, f"the role {actor.role} cannot break the glass")
    try:
        basis = authorise_read(actor, case, policy, today=today)
    except NotAuthorised:
        basis = ""
    if basis:
        why = f"{actor.organisation} reads this case on the basis {basis}: no break-glass needed"
        raise _deny(actor, case.case_id, why)
    receiving = [
        h.handover_id for h in case.open_handovers if h.to_organisation == actor.organisation
    ]
    if receiving:
        why = (
            f"{actor.organisation} receives handover {receiving[0]}: it sees that handover's "
            "payload, and the case once it accepts"
        )
        raise _deny(actor, case.case_id, why)
    if len(reason.strip()) < BREAK_GLASS_MIN_REASON:
        why = f"break-glass needs a reason of at least {BREAK_GLASS_MIN_REASON} characters"
        raise _deny(actor, case.case_id, why)


def authorise_review_tasks(actor: Actor, policy: RegionalPolicy) -> str:
    """Veilig Thuis professionals and auditors see the break-glass review tasks; the basis."""
    known_actor(actor, policy)
    if actor.role is Role.auditor:
        return "auditor"
    if actor.role is Role.professional and _is_vt(actor, policy):
        return "veilig_thuis"
    raise _deny(actor, None, "break-glass uses are reviewed by Veilig Thuis and auditors")


def authorise_handover_read(
    actor: Actor, case: CaseState, handover_id: str, policy: RegionalPolicy
) -> str:
    """The basis on which ``actor`` may see one handover's payload: its parties, Veilig Thuis
    and auditors; the receiver sees nothing else of the case."""
    known_actor(actor, policy)
    handover = case.handovers.get(handover_id)
    if handover is None:
        raise NotFound(
            f"case {case.case_id} has no handover {handover_id}", kind="handover", ident=handover_id
        )
    if actor.role is Role.system:
        raise _deny(actor, case.case_id, "the system reads no cases through the read API")
    if actor.role is Role.auditor:
        return "auditor"
    if actor.organisation in (handover.from_organisation, handover.to_organisation):
        return "handover"
    if _is_vt(actor, policy) and actor.role is Role.professional:
        return "veilig_thuis"
    why = f"{actor.organisation} is not a party to handover {handover_id}"
    raise _deny(actor, case.case_id, why)
