"""The read model: a case's projection row, computed from its state alone."""

from __future__ import annotations

from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.domain.case import CaseState
from phasedcare.domain.deadlines import deadlines
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.service.ports import CaseProjection, DeadlineRow, HandoverRow

__all__ = ["project"]


def project(
    case: CaseState, policy: RegionalPolicy, calendar: WorkingDayCalendar
) -> CaseProjection:
    """The projection row of ``case``: ids, phases, dates and organisations, never a name."""
    if case.opened_at is None or case.updated_at is None:  # pragma: no cover - opened cases only
        msg = f"case {case.case_id} was never opened"
        raise ValueError(msg)
    due = deadlines(case, policy, calendar)
    deadline = due[0] if due else None
    return CaseProjection(
        case_id=case.case_id,
        region=case.region,
        opened_via=case.opened_via,
        acute=case.acute,
        phase=case.phase,
        vt_stage=case.vt_stage,
        regie_organisation=case.regie.organisation,
        casusregisseur=case.regie.casusregisseur,
        opened_at=case.opened_at,
        updated_at=case.updated_at,
        sequence=case.sequence,
        next_deadline=deadline.due if deadline else None,
        next_deadline_kind=deadline.kind if deadline else None,
        deadlines=tuple(
            DeadlineRow(d.due, case.case_id, d.kind, d.ref, d.responsible, d.escalated, d.due_at)
            for d in due
        ),
        handovers=tuple(
            HandoverRow(
                case_id=case.case_id,
                handover_id=h.handover_id,
                from_organisation=h.from_organisation,
                to_organisation=h.to_organisation,
                purpose=h.purpose,
                status=h.status,
                respond_by=h.respond_by,
                proposed_at=h.proposed_at,
            )
            for h in case.handovers.values()
        ),
    )
