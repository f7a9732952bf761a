"""The access report of one employee (NEN 7513, chapter 9): every read, search, command and
refusal of one user, across the cases, for an auditor.

Mixed into :class:`~phasedcare.service.engine.Engine`. A region-wide auditor (Veilig Thuis's,
or an organisation the policy names in ``region_auditors``) reports on anyone; any other
auditor only on the employees of its own organisation. The report is itself a logged search
on the caseload's stream. It reads every case's access log, so it costs one read per case:
an audit report, not a page a professional opens every minute.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from pydantic import BaseModel, ConfigDict

from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.errors import Erased, InvalidInput
from phasedcare.service.access import CASELOAD, AccessLog
from phasedcare.service.authorisation import audits_region
from phasedcare.service.ports import CaseFilter, EventStore
from phasedcare.service.views import AccessView

__all__ = ["AccessReports", "EmployeeAccess"]


class EmployeeAccess(BaseModel):
    """One entry of an employee's access report: in which case's log (or the caseload's)."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    entry: AccessView


class AccessReports(ABC):
    """The employee access report (the Engine's)."""

    _store: EventStore
    _policy: RegionalPolicy
    _access: AccessLog

    @abstractmethod
    def _auditor_only(
        self, actor: Actor, *, action: str, query: str, what: str, region: bool = False
    ) -> None:
        """Refuse (and log) anyone but an auditor; log the auditor's access."""

    def employee_access(self, user: str, *, actor: Actor) -> list[EmployeeAccess]:
        """Everything ``user`` did or was refused, oldest first, in every case's access log
        and the caseload's; an auditor not of the whole region sees only its own
        organisation's employees."""
        if not user.strip() or len(user) > 64:
            raise InvalidInput("name the employee by user id (1 to 64 characters)", field="user")
        self._auditor_only(actor, action="search", query="employee_access", what="report access")
        organisation = None if audits_region(actor, self._policy) else actor.organisation
        found = [
            EmployeeAccess(case_id=subject, entry=entry)
            for subject in self._subjects()
            for entry in self._entries(subject)
            if _by(entry, user, organisation)
        ]
        return sorted(found, key=lambda e: (e.entry.at, e.case_id, e.entry.sequence))

    def _subjects(self) -> list[str]:
        return [CASELOAD, *(row.case_id for row in self._store.projections(CaseFilter()))]

    def _entries(self, subject: str) -> list[AccessView]:
        try:
            return self._access.entries(subject)
        except Erased:  # its key is destroyed: the entries are gone with the case
            return []


def _by(entry: AccessView, user: str, organisation: str | None) -> bool:
    """Whether ``entry`` is the employee's (of ``organisation``, when limited to one)."""
    try:
        who = Actor.parse(entry.actor)
    except ValueError:
        return False
    if who.role is Role.system or who.user != user:
        return False
    return organisation is None or who.organisation == organisation

