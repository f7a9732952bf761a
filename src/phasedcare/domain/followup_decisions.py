"""Decisions about what follows a melding: new meldingen about a known household and the
veiligheidsbeoordeling each gets, monitoring after the handover, and the tijdelijk huisverbod."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from phasedcare.domain import commands as cmd
from phasedcare.domain import events as ev
from phasedcare.domain.calendar import add_months
from phasedcare.domain.case import STARTS_TRACK, CaseState, Huisverbod, MeldingAssessment
from phasedcare.domain.charts import SCALING_UP_FROM, Taxatie
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.deadlines import monitoring_start
from phasedcare.domain.deciding import (
    envelope,
    refuse_when_closed,
    terugval,
    transition,
)
from phasedcare.domain.household import MemberRole, age_on
from phasedcare.domain.vt_outcome import FollowUp
from phasedcare.errors import InvalidInput, NotFound, Refused

__all__ = [
    "RECEIVED_AT_MAX_MONTHS",
    "ZICHT_MAX_DAYS",
    "check_melder_organisation",
    "classify_melding",
    "conclude_veiligheidsbeoordeling",
    "extend_huisverbod",
    "impose_huisverbod",
    "organise_zicht",
    "received_moment",
    "record_huisverbod_help",
    "record_melding",
    "record_monitoring_check",
]


# -- new meldingen, monitoring, tijdelijk huisverbod ---------------------------------------

_DURING_ASSESSMENT = frozenset({"melding", "veiligheidsbeoordeling"})


def check_melder_organisation(organisation: str, ctx: DecisionContext, case_id: str | None) -> None:
    """A melder's organisation, when named, is one of the region's: it receives the feedback."""
    if not organisation:
        return
    try:
        ctx.policy.organisation(organisation)
    except NotFound:
        raise Refused(
            f"melder_organisation {organisation} is not an organisation of region "
            f"{ctx.policy.region}",
            case_id=case_id,
            rule="unknown_melder_organisation",
        ) from None


RECEIVED_AT_MAX_MONTHS = 12
"""How far back a melding registered now may have been received. Further back, its
veiligheidsbeoordeling was due about a year ago: that is not a late registration but a
history (brought in with ``phasedcare import``, which decides each line at its own moment)
or a mistyped year, and either way it would put a year-old overdue deadline on the list."""


def _local(moment: datetime, ctx: DecisionContext) -> str:
    """``moment`` as the region reads it, with its offset (no personal data: a time)."""
    return moment.astimezone(ctx.policy.zone).isoformat(sep=" ", timespec="minutes")


def received_moment(
    received_at: datetime | None, ctx: DecisionContext, case_id: str | None
) -> datetime:
    """When Veilig Thuis received the melding (UTC): the professional's ``received_at``, or
    now when none is given. Refused when it lies in the future or more than
    :data:`RECEIVED_AT_MAX_MONTHS` months before today."""
    if received_at is None:
        return ctx.now
    if received_at > ctx.now:
        raise Refused(
            f"the melding cannot have been received in the future ({_local(received_at, ctx)}; "
            f"it is now {_local(ctx.now, ctx)})",
            case_id=case_id,
            rule="received_in_future",
        )
    earliest = add_months(ctx.today, -RECEIVED_AT_MAX_MONTHS)
    if ctx.policy.local_date(received_at) < earliest:
        raise Refused(
            f"a melding received on {ctx.policy.local_date(received_at)} lies more than "
            f"{RECEIVED_AT_MAX_MONTHS} months back (the earliest is {earliest}): bring a "
            "case's history in with phasedcare import",
            case_id=case_id,
            rule="received_too_long_ago",
        )
    return received_at.astimezone(UTC)


def classify_melding(case: CaseState) -> str:
    """How CBS counts a new melding about this known household."""
    if case.vt_stage in _DURING_ASSESSMENT:
        return "vervolgmelding_tijdens_veiligheidsbeoordeling"
    if case.vt_stage == "monitoring":
        return "vervolgmelding_tijdens_monitoring"
    if case.vt_stage == "afgesloten":
        return "hermelding"
    return "vervolgmelding_na_veiligheidsbeoordeling"


def record_melding(
    case: CaseState, command: cmd.RecordMelding, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """A new melding about a known household: classify it, restart the track or fall back."""
    if case.vt_stage == "advies":
        raise Refused(
            "the case is an advies: convert it to a melding (omzetten_naar_melding) first",
            case_id=case.case_id,
            rule="case_is_advies",
        )
    check_melder_organisation(command.melder_organisation, ctx, case.case_id)
    received_at = received_moment(command.received_at, ctx, case.case_id)
    classification = classify_melding(case)
    recorded: list[ev.DomainEvent] = [
        ev.MeldingReceived(
            **envelope(case, ctx),
            classification=classification,
            melder_kind=command.melder_kind,
            melder_organisation=command.melder_organisation,
            acute=command.acute,
            summary=command.summary,
            received_at=received_at,
        )
    ]
    why = f"new melding ({classification}) on {ctx.today}"
    if classification == "hermelding":
        recorded.append(transition(case, ctx, "vt", "nieuwe_melding", why))
        if case.phase == "afgesloten":
            recorded.append(transition(case, ctx, "phase", "heropenen", why))
            recorded += _regie_returned(case, ctx, why)
    return recorded + terugval(case, ctx, why)


def _regie_returned(case: CaseState, ctx: DecisionContext, why: str) -> list[ev.DomainEvent]:
    """A hermelding on a closed case puts zicht op veiligheid with Veilig Thuis, the one
    who received it (domain.md 2.7): regie returns there unless it is there already."""
    veilig_thuis = ctx.policy.veilig_thuis.id
    if case.regie.organisation == veilig_thuis and case.regie.casusregisseur == ctx.actor.user:
        return []
    return [
        ev.RegieReturned(
            **envelope(case, ctx),
            organisation=veilig_thuis,
            casusregisseur=ctx.actor.user,
            reason=f"{why}: zicht op veiligheid is Veilig Thuis's again",
        )
    ]


"""Meldingen (by classification) whose veiligheidsbeoordeling is the track's own: the
chart's decision from the veiligheidsbeoordeling concludes them."""

_VT_STEPS = frozenset(
    {"melding", "veiligheidsbeoordeling", "onderzoek", "voorwaarden_en_vervolg", "verzoek_rvdk"}
)
"""Stages in which Veilig Thuis is assessing or taking steps of its own: a vervolgmelding
concluded with vervolgstappen bij Veilig Thuis is taken into them, the track stays."""

_NEEDS_MOTIVATION = frozenset({FollowUp.geen_vervolgstappen, FollowUp.omzetten_naar_advies})


def _waiting_melding(case: CaseState, melding_id: str) -> MeldingAssessment:
    """The melding ``melding_id`` whose veiligheidsbeoordeling is still to come."""
    found = case.assessment(melding_id)
    if found is None:
        raise Refused(
            f"case {case.case_id} has no melding {melding_id}",
            case_id=case.case_id,
            rule="unknown_melding",
        )
    if found.concluded:
        raise Refused(
            f"the veiligheidsbeoordeling of melding {melding_id} was concluded already",
            case_id=case.case_id,
            rule="already_concluded",
        )
    return found


def _open_vervolgmelding(case: CaseState, melding_id: str) -> MeldingAssessment:
    """The vervolgmelding ``melding_id`` whose veiligheidsbeoordeling is still open."""
    found = _waiting_melding(case, melding_id)
    if found.classification in STARTS_TRACK:
        raise Refused(
            f"melding {melding_id} started the Veilig Thuis track: its veiligheidsbeoordeling "
            "is concluded by the track's decision (besluit_*)",
            case_id=case.case_id,
            rule="concluded_by_decision",
        )
    return found


def _check_follow_up(case: CaseState, command: cmd.ConcludeVeiligheidsbeoordeling) -> None:
    """The follow-up fits where the track is: scaling up only for Veilig Thuis's own steps,
    from a stage it scales up from; a motivation where the chart would ask one."""
    own_steps = command.follow_up is FollowUp.vervolgstappen_bij_veilig_thuis
    if command.scale_up is not None and not own_steps:
        raise InvalidInput(
            "scale_up goes with follow_up vervolgstappen_bij_veilig_thuis", field="scale_up"
        )
    if command.onderzoek_ground is not None and command.scale_up != "besluit_onderzoek":
        raise InvalidInput(
            "only scale_up besluit_onderzoek takes a ground", field="onderzoek_ground"
        )
    if command.follow_up in _NEEDS_MOTIVATION and not command.reason.strip():
        raise InvalidInput(f"follow_up {command.follow_up} needs a reason", field="reason")
    if own_steps and command.scale_up is None and case.vt_stage not in _VT_STEPS:
        stages = ", ".join(sorted(SCALING_UP_FROM))
        raise Refused(
            f"the Veilig Thuis track is in {case.vt_stage}: vervolgstappen bij Veilig Thuis "
            f"scale it up (scale_up, from {stages})",
            case_id=case.case_id,
            rule="scale_up_needed",
        )


def conclude_veiligheidsbeoordeling(
    case: CaseState, command: cmd.ConcludeVeiligheidsbeoordeling, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Conclude a vervolgmelding's own veiligheidsbeoordeling: the taxatie and the follow-up,
    and, when Veilig Thuis scales up, the chart's decision beside it (its rules apply)."""
    refuse_when_closed(case, "concluding a veiligheidsbeoordeling")
    melding = _open_vervolgmelding(case, command.melding_id)
    _check_follow_up(case, command)
    recorded: list[ev.DomainEvent] = [
        ev.VeiligheidsbeoordelingConcluded(
            **envelope(case, ctx),
            melding_id=melding.melding_id,
            acute_onveiligheid=command.acute_onveiligheid,
            structurele_onveiligheid=command.structurele_onveiligheid,
            follow_up=command.follow_up,
            reason=command.reason,
        )
    ]
    if command.scale_up is not None:
        taxatie = Taxatie(command.acute_onveiligheid, command.structurele_onveiligheid)
        recorded.append(
            transition(
                case,
                ctx,
                "vt",
                command.scale_up,
                command.reason,
                taxatie=taxatie,
                ground=command.onderzoek_ground,
            )
        )
    return recorded


ADULT_AGE = 18
"""The age from which a tijdelijk huisverbod may be imposed (Wth art. 2 lid 2: meerderjarig)."""

ZICHT_MAX_DAYS = 28
"""How far ahead zicht for a waiting melding may be arranged: a waiting family is looked at
again at least every four weeks (our reading of the IGJ's wachtlijst finding)."""


def organise_zicht(
    case: CaseState, command: cmd.OrganiseZicht, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record who keeps zicht op veiligheid, how and until when, while a melding waits for its
    veiligheidsbeoordeling: an organisation of the region, from today to at most
    :data:`ZICHT_MAX_DAYS` ahead."""
    refuse_when_closed(case, "organising zicht op veiligheid")
    melding = _waiting_melding(case, command.melding_id)
    try:
        ctx.policy.organisation(command.kept_by)
    except NotFound:
        raise Refused(
            f"kept_by {command.kept_by} is not an organisation of region {ctx.policy.region}",
            case_id=case.case_id,
            rule="unknown_organisation",
        ) from None
    latest = ctx.today + timedelta(days=ZICHT_MAX_DAYS)
    if command.until < ctx.today:
        why = f"zicht until {command.until} has passed (today is {ctx.today})"
    elif command.until > latest:
        why = (
            f"zicht is arranged at most {ZICHT_MAX_DAYS} days ahead (until {latest} at the "
            "latest): arrange it again when it ends"
        )
    else:
        return [
            ev.ZichtOrganised(
                **envelope(case, ctx),
                melding_id=melding.melding_id,
                kept_by=command.kept_by,
                means=command.means,
                until=command.until,
                note=command.note,
            )
        ]
    raise Refused(why, case_id=case.case_id, rule="zicht_until")


def record_monitoring_check(
    case: CaseState, command: cmd.RecordMonitoringCheck, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record a monitoring check once monitoring has begun (the overdracht accepted, or the
    decision voorwaarden en vervolg); it counts for the moment whose window it falls in. An
    unsafe outcome past directe veiligheid fires terugval."""
    began = monitoring_start(case, ctx.policy)
    if began is None:
        raise Refused(
            f"monitoring has not begun (the Veilig Thuis track is in {case.vt_stage}): it "
            "begins when the overdracht is accepted or with voorwaarden en vervolg",
            case_id=case.case_id,
            rule="not_monitoring",
        )
    _not_in_future(case, command.checked_on, ctx, "a monitoring check")
    if command.checked_on < ctx.policy.local_date(began):
        raise Refused(
            f"monitoring began on {ctx.policy.local_date(began)}: a check of "
            f"{command.checked_on} lies before it",
            case_id=case.case_id,
            rule="before_monitoring",
        )
    recorded: list[ev.DomainEvent] = [
        ev.MonitoringCheckRecorded(
            **envelope(case, ctx),
            checked_on=command.checked_on,
            outcome=command.outcome,
            note=command.note,
        )
    ]
    if command.outcome == "onveilig":
        recorded += terugval(case, ctx, f"monitoring found it unsafe on {command.checked_on}")
    return recorded


def _not_in_future(case: CaseState, day: date, ctx: DecisionContext, what: str) -> None:
    if day > ctx.today:
        raise Refused(
            f"{what} cannot lie in the future ({day})", case_id=case.case_id, rule="in_future"
        )


def impose_huisverbod(
    case: CaseState, command: cmd.ImposeHuisverbod, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record a tijdelijk huisverbod imposed on an adult of the household; help must start
    within its days. It means ernstig en onmiddellijk gevaar (Wth art. 2 lid 1): an incident,
    and past directe veiligheid a terugval in the same command."""
    refuse_when_closed(case, "recording a huisverbod")
    _not_in_future(case, command.imposed_on, ctx, "a huisverbod")
    _check_adult(case, command)
    verbod = case.huisverbod
    if verbod is not None and verbod.ends_on >= command.imposed_on:
        raise Refused(
            f"a tijdelijk huisverbod runs until {verbod.ends_on}: extend it instead",
            case_id=case.case_id,
            rule="huisverbod_running",
        )
    days = ctx.policy.deadlines.tijdelijk_huisverbod_dagen
    ends_on = command.imposed_on + timedelta(days=days)
    imposed = ev.HuisverbodImposed(
        **envelope(case, ctx),
        imposed_on=command.imposed_on,
        ends_on=ends_on,
        against=command.against,
    )
    why = f"tijdelijk huisverbod imposed on {command.imposed_on}"
    return [imposed, *terugval(case, ctx, why)]


def _check_adult(case: CaseState, command: cmd.ImposeHuisverbod) -> None:
    """A tijdelijk huisverbod is imposed only on an adult (Wth art. 2 lid 2): the member must
    be in the household, not recorded as its child, and, when a date of birth is recorded, 18
    on the day."""
    member = case.members.get(command.against)
    if member is None:
        raise Refused(
            f"case {case.case_id} has no member {command.against}",
            case_id=case.case_id,
            rule="unknown_member",
        )
    age = None if member.date_of_birth is None else age_on(member.date_of_birth, command.imposed_on)
    if member.role is MemberRole.kind or (age is not None and age < ADULT_AGE):
        what = "a child of the household" if age is None else f"{age} on {command.imposed_on}"
        raise Refused(
            f"a tijdelijk huisverbod is imposed only on an adult (Wth art. 2 lid 2): "
            f"{command.against} is {what}",
            case_id=case.case_id,
            rule="huisverbod_minor",
        )


def extend_huisverbod(
    case: CaseState, command: cmd.ExtendHuisverbod, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Extend the tijdelijk huisverbod, never past the policy's maximum days."""
    verbod = _huisverbod(case)
    longest = verbod.imposed_on + timedelta(
        days=ctx.policy.deadlines.tijdelijk_huisverbod_max_dagen
    )
    if not verbod.ends_on < command.ends_on <= longest:
        raise Refused(
            f"the huisverbod of {verbod.imposed_on} can be extended from {verbod.ends_on} "
            f"to at most {longest}",
            case_id=case.case_id,
            rule="huisverbod_extension",
        )
    return [ev.HuisverbodExtended(**envelope(case, ctx), ends_on=command.ends_on)]


def record_huisverbod_help(
    case: CaseState, command: cmd.RecordHuisverbodHelp, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record that help started during the tijdelijk huisverbod."""
    verbod = _huisverbod(case)
    _not_in_future(case, command.started_on, ctx, "the start of help")
    if verbod.help_started_on is not None or command.started_on < verbod.imposed_on:
        raise Refused(
            f"help during the huisverbod of {verbod.imposed_on} started already or cannot "
            f"start before it",
            case_id=case.case_id,
            rule="huisverbod_help",
        )
    return [ev.HuisverbodHelpStarted(**envelope(case, ctx), started_on=command.started_on)]


def _huisverbod(case: CaseState) -> Huisverbod:
    if case.huisverbod is None:
        raise Refused(
            "no tijdelijk huisverbod is recorded", case_id=case.case_id, rule="no_huisverbod"
        )
    return case.huisverbod
