"""Who may do what: the one place where commands and reads are authorised.

Need to know: the organisation holding regie works on its case; Veilig Thuis of the region
works on the Veilig Thuis track and on what it monitors (members, conditions, risk,
incidents); the receiver of an open handover sees that handover's payload and answers it;
an organisation holding an active share reads the case until the share expires; a
professional without any of these may break the glass, with a reason Veilig Thuis reviews;
auditors read but never change, the cases their organisation has a part in (every case of
the region when the policy lists it in ``region_auditors``, and for Veilig Thuis). Reads are
judged on the case as it stands now, whatever moment they show. The CLI, the Python API and
HTTP all pass through these functions.

Who has no part in a case is not told it exists: :func:`concealed` turns its refusal into
the answer a missing case gets (:func:`unknown_case`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.case import CaseState, Handover, Share
from phasedcare.domain.obligations import Obligation
from phasedcare.domain.policy import OrganisationKind, RegionalPolicy
from phasedcare.errors import NotAuthorised, NotFound, PhasedCareError

__all__ = [
    "audits",
    "audits_region",
    "authorise_break_glass",
    "authorise_breaking_glass",
    "authorise_command",
    "authorise_handover_read",
    "authorise_lookup",
    "authorise_read",
    "authorise_retention",
    "authorise_review_tasks",
    "authorise_webhooks",
    "case_parties",
    "concealed",
    "known_actor",
    "unknown_case",
]

_VT_MAY = (
    cmd.RecordMember,
    cmd.FlagSpecificGroup,
    cmd.EndSpecificGroup,
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
    cmd.ConcludeVeiligheidsbeoordeling,
    cmd.OrganiseZicht,
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


def authorise_webhooks(actor: Actor, policy: RegionalPolicy, *, manage: bool) -> None:
    """Only an organisation's integration_admin makes, rotates and ends its webhook
    subscriptions (``manage``); its professionals and integration admin read them and their
    deliveries. Auditors and the system do neither."""
    known_actor(actor, policy)
    if actor.role is Role.integration_admin:
        return
    if manage:
        why = "webhook subscriptions are managed by the organisation's integration_admin"
        raise _deny(actor, None, why)
    if actor.role is not Role.professional:
        raise _deny(actor, None, f"the role {actor.role} does not read webhook subscriptions")


def _is_vt(actor: Actor, policy: RegionalPolicy) -> bool:
    return policy.organisation(actor.organisation).kind is OrganisationKind.veilig_thuis


def _deny(actor: Actor, case_id: str | None, why: str) -> NotAuthorised:
    return NotAuthorised(f"{actor} is not authorised: {why}", actor=str(actor), case_id=case_id)


def authorise_command(
    actor: Actor,
    command: cmd.Command,
    case: CaseState | None,
    policy: RegionalPolicy,
    *,
    open_obligations: Sequence[Obligation] = (),
) -> None:
    """Raise NotAuthorised unless ``actor`` may issue ``command`` on ``case``.

    An obligation is waived by its responsible organisation or Veilig Thuis: ``open_obligations``
    are the case's, folded by the service."""
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
    if isinstance(command, cmd.WaiveObligation):
        _authorise_waiver(actor, command, case, policy, open_obligations)
    elif not _may_change(actor, command, case, policy):
        raise _deny(actor, case.case_id, _why_not(command, case))


def _authorise_waiver(
    actor: Actor,
    command: cmd.WaiveObligation,
    case: CaseState,
    policy: RegionalPolicy,
    open_obligations: Sequence[Obligation],
) -> None:
    if _is_vt(actor, policy):
        return
    found = next((o for o in open_obligations if o.id == command.obligation_id), None)
    if found is not None and found.responsible == actor.organisation:
        return
    why = (
        f"obligation {command.obligation_id} is waived by the organisation responsible for it "
        "or Veilig Thuis"
    )
    raise _deny(actor, case.case_id, why)


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
    cmd.ConcludeVeiligheidsbeoordeling: "only Veilig Thuis concludes a veiligheidsbeoordeling",
    cmd.OrganiseZicht: "only Veilig Thuis organises zicht op veiligheid for a waiting melding",
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
    there is none (an expired or revoked share says so).

    ``case`` is the case as it stands now, also for a replay of an earlier moment: a share
    revoked or a regie handed away since ends the access to the past as well.
    """
    known_actor(actor, policy)
    org = actor.organisation
    if actor.role is Role.auditor:
        _audit_scope(actor, case, policy)
        return "auditor"
    if actor.role is not Role.professional:
        raise _deny(actor, case.case_id, f"the role {actor.role} reads no cases")
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
        raise _deny(actor, case.case_id, _share_ended(shares[-1], policy))
    raise _deny(actor, case.case_id, f"{org} holds no regie, handover or share for this case")


def case_parties(case: CaseState) -> frozenset[str]:
    """The organisations with a part in ``case``, past or present: every regiehouder, both
    ends of every handover and share, its melders and whoever broke the glass on it."""
    parties = {r.organisation for r in case.regie_history} | set(case.melders)
    for handover in case.handovers.values():
        parties |= {handover.from_organisation, handover.to_organisation}
    for share in case.shares.values():
        parties |= {share.from_organisation, share.to_organisation}
    return frozenset(parties | {use.organisation for use in case.break_glass.values()})


def audits_region(actor: Actor, policy: RegionalPolicy) -> bool:
    """Whether ``actor`` audits every case of the region: an auditor of Veilig Thuis (which
    reads every case) or of an organisation the policy lists in ``region_auditors``."""
    if actor.role is not Role.auditor:
        return False
    return _is_vt(actor, policy) or actor.organisation in policy.region_auditors


def audits(actor: Actor, case: CaseState, policy: RegionalPolicy) -> bool:
    """Whether the auditor ``actor`` audits ``case``: region-wide, or its organisation has a
    part in the case."""
    return audits_region(actor, policy) or actor.organisation in case_parties(case)


def _audit_scope(actor: Actor, case: CaseState, policy: RegionalPolicy) -> None:
    """Refuse an auditor whose organisation has no part in ``case`` (unless region-wide)."""
    org = actor.organisation
    if not audits(actor, case, policy):
        why = f"auditors of {org} audit the cases {org} has a part in, and {org} has none here"
        raise _deny(actor, case.case_id, why)


def unknown_case(case_id: str) -> NotFound:
    """The one answer for a case that does not exist and for one the actor may not know of."""
    msg = f"case {case_id} does not exist or you may not read it"
    return NotFound(msg, kind="case", ident=case_id)


def concealed(
    exc: PhasedCareError, actor: Actor, case: CaseState, policy: RegionalPolicy
) -> PhasedCareError:
    """The refusal ``actor`` is told: ``exc`` with its reason when its organisation has a part
    in the case (or is Veilig Thuis), else the answer a missing case gets."""
    knows = actor.organisation in case_parties(case) | {policy.veilig_thuis.id}
    return exc if knows else unknown_case(case.case_id)


def _share_ended(share: Share, policy: RegionalPolicy) -> str:
    if share.revoked_at is not None:
        return f"share {share.share_id} was revoked on {policy.local_date(share.revoked_at)}"
    return f"share {share.share_id} expired on {share.expires_on}"


def authorise_breaking_glass(actor: Actor, policy: RegionalPolicy) -> None:
    """Refuse anyone but a professional of the region before any case is looked up: auditors
    and the system never break the glass."""
    known_actor(actor, policy)
    if actor.role is not Role.professional:
        raise _deny(actor, None, f"the role {actor.role} cannot break the glass")


def authorise_break_glass(
    actor: Actor, case: CaseState, policy: RegionalPolicy, *, today: date
) -> None:
    """Refuse a break-glass read unless it is by a professional without another basis.

    Auditors and the system never break the glass (:func:`authorise_breaking_glass`);
    whoever may read already needs no glass. Whether the reason is real text, and how often
    the glass may be broken, the domain decides
    (:func:`phasedcare.domain.share_decisions.use_break_glass`).
    """
    authorise_breaking_glass(actor, policy)
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


def authorise_review_tasks(actor: Actor, policy: RegionalPolicy) -> str:
    """Veilig Thuis professionals and auditors see the break-glass review tasks; the basis."""
    known_actor(actor, policy)
    if actor.role is Role.auditor:
        return "auditor"
    if actor.role is Role.professional and _is_vt(actor, policy):
        return "veilig_thuis"
    raise _deny(actor, None, "break-glass uses are reviewed by Veilig Thuis and auditors")


_RECEIVER_SEES = frozenset({"proposed", "accepted"})
"""Handover statuses in which the receiver still sees the payload: once it is withdrawn,
rejected or expired (and escalated), the payload is no longer its business."""

_CLOSED_AS = {"escalated": "expired"}
"""How a refusal names a closed handover's status (an escalated one expired first)."""


def authorise_handover_read(
    actor: Actor, case: CaseState, handover_id: str, policy: RegionalPolicy
) -> str:
    """The basis on which ``actor`` may see one handover's payload: its sender, its receiver
    while the handover is open or accepted, Veilig Thuis and auditors of the case; the
    receiver sees nothing else of the case."""
    known_actor(actor, policy)
    handover = case.handovers.get(handover_id)
    if actor.role is Role.system:
        raise _deny(actor, case.case_id, "the system reads no cases through the read API")
    if actor.role is Role.integration_admin:
        raise _deny(actor, case.case_id, f"the role {actor.role} reads no cases")
    if actor.role is Role.auditor:
        _audit_scope(actor, case, policy)
        return _existing(case, handover_id, handover, "auditor")
    if _is_vt(actor, policy) and actor.role is Role.professional:
        return _existing(case, handover_id, handover, "veilig_thuis")
    if handover is not None and actor.organisation == handover.from_organisation:
        return "handover"
    if handover is not None and actor.organisation == handover.to_organisation:
        if handover.status not in _RECEIVER_SEES:
            closed = _CLOSED_AS.get(handover.status, handover.status)
            why = (
                f"handover {handover_id} was {closed}: its receiver no longer sees its payload "
                "(its status stays in the handover list)"
            )
            raise _deny(actor, case.case_id, why)
        return "handover"
    if handover is None and actor.organisation == case.regie.organisation:
        return _existing(case, handover_id, handover, "regie")
    why = f"{actor.organisation} is not a party to handover {handover_id}"
    raise _deny(actor, case.case_id, why)


def _existing(case: CaseState, handover_id: str, handover: Handover | None, basis: str) -> str:
    """``basis``, for a handover that exists; NotFound (to one who may read the case) if not."""
    if handover is None:
        raise NotFound(
            f"case {case.case_id} has no handover {handover_id}", kind="handover", ident=handover_id
        )
    return basis
