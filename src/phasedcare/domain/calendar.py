"""Working days (werkdagen) with Dutch public holidays, so legal deadlines land on the right day.

The holidays come from the maintained ``holidays`` library (``country_holidays("NL")``, names
in Dutch), never from a hand-written list. What holidays 0.109 counts as a public holiday:
Nieuwjaarsdag, Goede vrijdag, Eerste en Tweede paasdag, Koningsdag (27 April, or Saturday
26 April when the 27th is a Sunday), Hemelvaartsdag, Eerste en Tweede pinksterdag, Eerste en
Tweede kerstdag, and **Bevrijdingsdag (5 May) only in lustrum years** (2025, 2030, ...): the
library follows the many CAOs that give the day off once every five years. The Algemene
termijnenwet (art. 3) lists 5 May every year; the library keeps that in its ``optional``
category, and ``bevrijdingsdag_every_year=True`` adds that category. A region's other closed
days (the bridge days a royal decree equates with holidays, a regional closure) come from its
policy as ``extra_closed_days``.

A day is a working day on Monday to Friday when no holiday or closed day falls on it.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Iterable, Iterator, Mapping
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType

import holidays

from phasedcare.errors import InvalidInput

__all__ = ["WorkingDayCalendar", "add_months"]

_SATURDAY = 5  # date.weekday(): Monday is 0, so 5 and 6 are the weekend
_REGIONAL_CLOSURE = "Sluitingsdag (regionaal beleid)"
_REMEMBERED_SUMS = 4096  # add_working_days results a calendar keeps before it starts afresh


@lru_cache(maxsize=512)
def _holidays_of(year: int, *, bevrijdingsdag_every_year: bool) -> Mapping[date, str]:
    """One year's Dutch holidays, cached because the library builds them on every call."""
    categories = (holidays.PUBLIC, holidays.OPTIONAL) if bevrijdingsdag_every_year else None
    found = holidays.country_holidays("NL", years=year, language="nl", categories=categories)
    return MappingProxyType(dict(found.items()))


def _a_date(value: date, *, field: str) -> date:
    """``value`` itself, refused when it is a datetime (it would never match a holiday)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        msg = f"{field} must be a date, not {type(value).__name__}"
        raise InvalidInput(msg, field=field)
    return value


def _weekdays_after(start: date, days: int) -> int:
    """How many of the ``days`` days after ``start`` fall on Monday to Friday."""
    weeks, rest = divmod(days, 7)
    tail = sum(1 for n in range(1, rest + 1) if (start.weekday() + n) % 7 < _SATURDAY)
    return weeks * 5 + tail


class WorkingDayCalendar:
    """Monday to Friday, minus Dutch public holidays and the region's extra closed days.

    Args:
        extra_closed_days: the region's own closed days (from its policy).
        bevrijdingsdag_every_year: count 5 May as a holiday every year, as the Algemene
            termijnenwet does, instead of only in lustrum years.
    """

    __slots__ = ("_bevrijdingsdag", "_extra", "_sums")

    def __init__(
        self, *, extra_closed_days: Iterable[date] = (), bevrijdingsdag_every_year: bool = False
    ) -> None:
        self._extra = frozenset(_a_date(d, field="extra_closed_days") for d in extra_closed_days)
        self._bevrijdingsdag = bevrijdingsdag_every_year
        self._sums: dict[tuple[date, int], date] = {}  # add_working_days, remembered

    def __repr__(self) -> str:
        extra = ", ".join(str(d) for d in sorted(self._extra))
        return (
            f"WorkingDayCalendar(extra_closed_days=[{extra}], "
            f"bevrijdingsdag_every_year={self._bevrijdingsdag})"
        )

    def holiday_name(self, day: date) -> str | None:
        """The Dutch name of the holiday or closed day on ``day``, or None on an ordinary day."""
        day = _a_date(day, field="day")
        name = _holidays_of(day.year, bevrijdingsdag_every_year=self._bevrijdingsdag).get(day)
        if name is None and day in self._extra:
            return _REGIONAL_CLOSURE
        return name

    def is_working_day(self, day: date) -> bool:
        """True on Monday to Friday when no holiday or closed day falls on ``day``."""
        day = _a_date(day, field="day")
        return day.weekday() < _SATURDAY and self.holiday_name(day) is None

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start``; ``start`` itself is not counted.

        Raises:
            InvalidInput: ``days`` is negative, or the result lies beyond the year 9999.
        """
        day = _a_date(start, field="start")
        if days < 0:
            raise InvalidInput(f"working days must not be negative, got {days}", field="days")
        known = self._sums.get((day, days))
        if known is None:
            known = self._walk(day, days)
            if len(self._sums) >= _REMEMBERED_SUMS:
                self._sums.clear()
            self._sums[(day, days)] = known
        return known

    def _walk(self, start: date, days: int) -> date:
        """``add_working_days`` counted day by day (the calendar remembers what it walked)."""
        day = start
        try:
            while days:
                day += timedelta(days=1)
                days -= self.is_working_day(day)
        except OverflowError:
            raise InvalidInput("the deadline lies beyond the year 9999", field="days") from None
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie in (start, end]; 0 when ``end`` is not after ``start``.

        Counted without walking day by day: the weekdays in the span minus the closed weekdays.
        """
        start, end = _a_date(start, field="start"), _a_date(end, field="end")
        if end <= start:
            return 0
        closed = sum(1 for day in self._closed_days(start, end) if day.weekday() < _SATURDAY)
        return _weekdays_after(start, (end - start).days) - closed

    def _closed_days(self, start: date, end: date) -> Iterator[date]:
        """Every holiday and extra closed day in (start, end], each once."""
        found = set(self._extra)
        for year in range(start.year, end.year + 1):
            found.update(_holidays_of(year, bevrijdingsdag_every_year=self._bevrijdingsdag))
        return (day for day in found if start < day <= end)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, clamped to the month end (31 Jan + 1: 28/29 Feb).

    Raises:
        InvalidInput: the result lies outside the years 1 to 9999.
    """
    year, month_index = divmod(day.year * 12 + day.month - 1 + months, 12)
    if not MINYEAR <= year <= MAXYEAR:
        msg = f"{day} plus {months} months lies outside the calendar"
        raise InvalidInput(msg, field="months")
    last = _stdlib_calendar.monthrange(year, month_index + 1)[1]
    return date(year, month_index + 1, min(day.day, last))
