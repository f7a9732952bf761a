"""Working days (werkdagen) with Dutch public holidays, from the maintained ``holidays`` library.

The Netherlands' public holidays as ``holidays`` lists them: Nieuwjaarsdag, Goede Vrijdag,
Pasen, Koningsdag (27 April, or 26 April when the 27th is a Sunday), Bevrijdingsdag (in
lustrum years only, as the library models it; ``bevrijdingsdag_every_year`` adds it every
year), Hemelvaart, Pinksteren and Kerstmis. A region adds its own closed days in its policy.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays

from phasedcare.errors import InvalidInput

__all__ = ["WorkingDayCalendar", "add_months"]

_SATURDAY = 5


@lru_cache(maxsize=256)
def _dutch_holidays(year: int) -> dict[date, str]:
    """The Dutch public holidays of one year (cached: the library builds them on demand)."""
    return dict(holidays.country_holidays("NL", years=year).items())


class WorkingDayCalendar:
    """Monday to Friday, minus Dutch public holidays and the region's extra closed days."""

    def __init__(
        self, *, extra_closed_days: Iterable[date] = (), bevrijdingsdag_every_year: bool = False
    ) -> None:
        self._extra = frozenset(extra_closed_days)
        self._bevrijdingsdag = bevrijdingsdag_every_year

    def holiday_name(self, day: date) -> str | None:
        """The name of the holiday or closed day on ``day``, or None."""
        if day in self._extra:
            return "closed (regional policy)"
        if self._bevrijdingsdag and (day.month, day.day) == (5, 5):
            return "Liberation Day"
        return _dutch_holidays(day.year).get(day)

    def is_working_day(self, day: date) -> bool:
        """True on Monday to Friday when no holiday or closed day falls on ``day``."""
        return day.weekday() < _SATURDAY and self.holiday_name(day) is None

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (``start`` itself is not counted)."""
        if days < 0:
            raise InvalidInput(f"working days must not be negative, got {days}", field="days")
        day = start
        while days:
            day += timedelta(days=1)
            days -= self.is_working_day(day)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie in (start, end]; 0 when ``end`` is not after ``start``."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, clamped to the month end (31 Jan + 1: 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = _stdlib_calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))
