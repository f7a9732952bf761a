"""Who may do what: the one place where commands and reads are authorised.

Need to know: the organisation holding regie works on its case; Veilig Thuis of the region
works on the Veilig Thuis track and on what it monitors (members, conditions, risk,
incidents); the receiver of an open handover may read the case and answer the handover;
auditors read but never change. The CLI, the Python API and (later) HTTP all pass through
these functions.
"""

from __future__ import annotations

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.case import CaseState
from phasedcare.domain.policy import OrganisationKind, RegionalPolicy
from phasedcare.errors import NotAuthorised, NotFound

__all__ = [
    "authorise_command",
    "authorise_handover_read",
    "authorise_lookup",
    "authorise_read",
    "authorise_retention",
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
)
_RECEIVER_ANSWERS = (cmd.AcceptHandover, cmd.RejectHandover)
_VT_ONLY = (cmd.PlaceLegalHold, cmd.ReleaseLegalHold, cmd.RecordMelding, cmd.RecordMonitoringCheck)
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


def _why_not(command: cmd.Command, case: CaseState) -> str:
    if isinstance(command, _RECEIVER_ANSWERS):
        return f"only the receiving organisation answers handover {command.handover_id}"
    if isinstance(command, cmd.FireEvent) and command.chart == "vt":
        return "only Veilig Thuis moves the Veilig Thuis track"
    if isinstance(command, cmd.PlaceLegalHold | cmd.ReleaseLegalHold):
        return "only Veilig Thuis places and releases legal holds"
    if isinstance(command, _VT_ONLY):
        return "only Veilig Thuis records new meldingen and monitoring checks"
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


def authorise_read(actor: Actor, case: CaseState, policy: RegionalPolicy) -> str:
    """The legal basis on which ``actor`` may read ``case``; NotAuthorised when there is none."""
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
    if any(h.to_organisation == org for h in case.open_handovers):
        why = f"{org} sees only what its open handover shares (the handover view)"
        raise _deny(actor, case.case_id, why)
    raise _deny(actor, case.case_id, f"{org} holds no regie, handover or share for this case")


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
    if actor.role is Role.auditor:
        return "auditor"
    if actor.organisation in (handover.from_organisation, handover.to_organisation):
        return "handover"
    if _is_vt(actor, policy) and actor.role is Role.professional:
        return "veilig_thuis"
    why = f"{actor.organisation} is not a party to handover {handover_id}"
    raise _deny(actor, case.case_id, why)
