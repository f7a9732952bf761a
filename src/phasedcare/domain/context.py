"""What a decision needs besides the case: the time, the actor and the regional policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from phasedcare.domain.actors import Actor
from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.domain.obligations import Obligation
from phasedcare.domain.policy import RegionalPolicy

__all__ = ["DecisionContext"]


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """The circumstances of one decision; the domain reads the time only from here.

    ``open_obligations`` are the case's open obligations before the decision, folded from
    its events by the service (:func:`phasedcare.domain.obligations.track`): the closures,
    an escalation and a waiver are judged on them. Any sequence will do: the importer's
    folds only when a decision reads it.
    """

    now: datetime
    actor: Actor
    policy: RegionalPolicy
    calendar: WorkingDayCalendar
    open_obligations: Sequence[Obligation] = ()

    @property
    def today(self) -> date:
        """The region's date at ``now`` (in the policy's time zone, not UTC's)."""
        return self.policy.local_date(self.now)
