"""What a decision needs besides the case: the time, the actor and the regional policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from phasedcare.domain.actors import Actor
from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.domain.policy import RegionalPolicy

__all__ = ["DecisionContext"]


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """The circumstances of one decision; the domain reads the time only from here."""

    now: datetime
    actor: Actor
    policy: RegionalPolicy
    calendar: WorkingDayCalendar

    @property
    def today(self) -> date:
        """The region's date at ``now`` (in the policy's time zone, not UTC's)."""
        return self.policy.local_date(self.now)
