"""Working days with Dutch public holidays."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phasedcare.domain.calendar import WorkingDayCalendar, add_months
from phasedcare.errors import InvalidInput

CALENDAR = WorkingDayCalendar()


def test_koningsdag_is_not_a_working_day() -> None:
    """Monday 27 April 2026 is Koningsdag."""
    assert not CALENDAR.is_working_day(date(2026, 4, 27))
    assert CALENDAR.holiday_name(date(2026, 4, 27)) == "King's Day"


def test_koningsdag_moves_to_saturday_when_the_27th_is_a_sunday() -> None:
    """In 2025 the 27th was a Sunday, so Koningsdag was Saturday 26 April."""
    assert CALENDAR.holiday_name(date(2025, 4, 26)) == "King's Day"
    assert CALENDAR.holiday_name(date(2025, 4, 27)) is None


def test_five_werkdagen_across_a_weekend() -> None:
    """A melding on Thursday 5 March 2026 is due Thursday 12 March."""
    assert CALENDAR.add_working_days(date(2026, 3, 5), 5) == date(2026, 3, 12)


def test_five_werkdagen_across_koningsdag() -> None:
    """A melding on Thursday 23 April 2026 skips the weekend and Koningsdag: due Friday 1 May."""
    assert CALENDAR.add_working_days(date(2026, 4, 23), 5) == date(2026, 5, 1)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (date(2026, 12, 24), date(2027, 1, 4)),  # Christmas and New Year
        (date(2026, 4, 2), date(2026, 4, 13)),  # Good Friday and Easter Monday
        (date(2026, 5, 13), date(2026, 5, 21)),  # Hemelvaart (14 May)
        (date(2026, 5, 22), date(2026, 6, 1)),  # Pinkstermaandag (25 May)
    ],
)
def test_five_werkdagen_across_public_holidays(start: date, due: date) -> None:
    """Christmas, Easter, Hemelvaart and Pinksteren do not count as werkdagen."""
    assert CALENDAR.add_working_days(start, 5) == due


def test_bevrijdingsdag_counts_only_when_the_policy_says_so() -> None:
    """5 May 2026 is a working day unless the region closes on it every year."""
    assert CALENDAR.is_working_day(date(2026, 5, 5))
    assert not WorkingDayCalendar(bevrijdingsdag_every_year=True).is_working_day(date(2026, 5, 5))


def test_extra_closed_days_from_the_policy() -> None:
    """A region's own closed day is skipped."""
    calendar = WorkingDayCalendar(extra_closed_days=[date(2026, 3, 6)])
    assert calendar.add_working_days(date(2026, 3, 5), 1) == date(2026, 3, 9)


def test_zero_days_is_the_start_and_negative_is_refused() -> None:
    """0 working days after a date is that date; a negative count is bad input."""
    assert CALENDAR.add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 7)
    with pytest.raises(InvalidInput, match="must not be negative"):
        CALENDAR.add_working_days(date(2026, 3, 7), -1)


@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    days=st.integers(0, 60),
)
def test_counting_back_gives_the_days_added(start: date, days: int) -> None:
    """working_days_between(start, start + n werkdagen) == n, and the due date is a working day."""
    due = CALENDAR.add_working_days(start, days)
    assert CALENDAR.working_days_between(start, due) == days
    assert days == 0 or CALENDAR.is_working_day(due)
    assert CALENDAR.working_days_between(due, start) == 0 or due == start


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 2), 12, date(2027, 3, 2)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
    ],
)
def test_add_months_clamps_to_the_month_end(day: date, months: int, expected: date) -> None:
    """Calendar months, clamped to the last day of a shorter month."""
    assert add_months(day, months) == expected


def test_2026_has_254_werkdagen() -> None:
    """261 weekdays minus 7 holidays on weekdays (New Year, Good Friday, Easter Monday, Koningsdag, Hemelvaart, Pinkstermaandag, Christmas)."""
    start = date(2025, 12, 31)
    assert CALENDAR.working_days_between(start, start + timedelta(days=365)) == 254
