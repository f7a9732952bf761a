"""The read model: a case's projection row, computed from its state alone."""

from __future__ import annotations

from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.domain.case import CaseState
from phasedcare.domain.deadlines import next_deadline
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.service.ports import CaseProjection

__all__ = ["project"]


def project(
    case: CaseState, policy: RegionalPolicy, calendar: WorkingDayCalendar
) -> CaseProjection:
    """The projection row of ``case``: ids, phases, dates and organisations, never a name."""
    if case.opened_at is None or case.updated_at is None:  # pragma: no cover - opened cases only
        msg = f"case {case.case_id} was never opened"
        raise ValueError(msg)
    deadline = next_deadline(case, policy, calendar)
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
    )
