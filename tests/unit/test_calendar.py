"""Working days with Dutch public holidays: the arithmetic every legal deadline rests on."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phasedcare.domain.calendar import WorkingDayCalendar, add_months
from phasedcare.errors import InvalidInput

CALENDAR = WorkingDayCalendar()

DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
CALENDARS = st.builds(
    WorkingDayCalendar,
    extra_closed_days=st.lists(DAYS, max_size=20),
    bevrijdingsdag_every_year=st.booleans(),
)


def test_koningsdag_is_not_a_working_day() -> None:
    """Monday 27 April 2026 is Koningsdag, a public holiday."""
    assert not CALENDAR.is_working_day(date(2026, 4, 27))
    assert CALENDAR.holiday_name(date(2026, 4, 27)) == "Koningsdag"


def test_koningsdag_moves_to_saturday_when_the_27th_is_a_sunday() -> None:
    """In 2025 the 27th was a Sunday, so Koningsdag was Saturday 26 April."""
    assert CALENDAR.holiday_name(date(2025, 4, 26)) == "Koningsdag"
    assert CALENDAR.holiday_name(date(2025, 4, 27)) is None


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 1, 1), "Nieuwjaarsdag"),
        (date(2026, 4, 3), "Goede vrijdag"),
        (date(2026, 4, 6), "Tweede paasdag"),
        (date(2026, 5, 14), "Hemelvaartsdag"),
        (date(2026, 5, 25), "Tweede pinksterdag"),
        (date(2026, 12, 25), "Eerste kerstdag"),
        (date(2024, 12, 26), "Tweede kerstdag"),
    ],
)
def test_public_holidays_on_weekdays_are_not_working_days(day: date, name: str) -> None:
    """Each Dutch public holiday that falls on a weekday is named in Dutch and skipped."""
    assert CALENDAR.holiday_name(day) == name
    assert not CALENDAR.is_working_day(day)


def test_weekends_are_not_working_days_and_ordinary_weekdays_are() -> None:
    """Saturday and Sunday never count; an ordinary Tuesday does and has no holiday name."""
    assert not CALENDAR.is_working_day(date(2026, 3, 7))
    assert not CALENDAR.is_working_day(date(2026, 3, 8))
    assert CALENDAR.is_working_day(date(2026, 3, 10))
    assert CALENDAR.holiday_name(date(2026, 3, 10)) is None


def test_five_werkdagen_across_a_weekend() -> None:
    """A melding on Thursday 5 March 2026 is due Thursday 12 March."""
    assert CALENDAR.add_working_days(date(2026, 3, 5), 5) == date(2026, 3, 12)


def test_five_werkdagen_across_koningsdag() -> None:
    """Thursday 23 April 2026: Fri 24 (1), weekend, Koningsdag Mon 27, Tue-Thu (2-4), Fri 1 May (5)."""
    assert CALENDAR.add_working_days(date(2026, 4, 23), 5) == date(2026, 5, 1)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        pytest.param(date(2026, 12, 24), date(2027, 1, 4), id="kerst-en-nieuwjaar"),
        pytest.param(date(2026, 4, 2), date(2026, 4, 13), id="goede-vrijdag-en-paasmaandag"),
        pytest.param(date(2026, 4, 3), date(2026, 4, 13), id="paasmaandag"),
        pytest.param(date(2026, 5, 13), date(2026, 5, 21), id="hemelvaart"),
        pytest.param(date(2026, 5, 22), date(2026, 6, 1), id="pinkstermaandag"),
    ],
)
def test_five_werkdagen_skip_public_holidays(start: date, due: date) -> None:
    """Christmas, New Year, Easter, Hemelvaart and Pinksteren do not count as werkdagen."""
    assert CALENDAR.add_working_days(start, 5) == due


def test_bevrijdingsdag_is_a_holiday_in_lustrum_years_only_by_default() -> None:
    """holidays 0.109 counts 5 May as a public holiday in 2025 and 2030, not in 2026."""
    assert CALENDAR.holiday_name(date(2025, 5, 5)) == "Bevrijdingsdag"
    assert CALENDAR.holiday_name(date(2030, 5, 5)) == "Bevrijdingsdag"
    assert CALENDAR.is_working_day(date(2026, 5, 5))


def test_bevrijdingsdag_every_year_adds_only_the_fifth_of_may() -> None:
    """The policy switch closes 5 May 2026 and changes no other day of the year."""
    every_year = WorkingDayCalendar(bevrijdingsdag_every_year=True)
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    differing = [d for d in days if CALENDAR.is_working_day(d) != every_year.is_working_day(d)]
    assert differing == [date(2026, 5, 5)]
    assert every_year.holiday_name(date(2026, 5, 5)) == "Bevrijdingsdag"


def test_extra_closed_days_from_the_policy_are_skipped() -> None:
    """A region's own closed day (Friday 6 March 2026) moves a one-day deadline to Monday."""
    calendar = WorkingDayCalendar(extra_closed_days=[date(2026, 3, 6)])
    assert calendar.add_working_days(date(2026, 3, 5), 1) == date(2026, 3, 9)
    assert calendar.holiday_name(date(2026, 3, 6)) == "Sluitingsdag (regionaal beleid)"


def test_a_closed_day_on_a_holiday_keeps_the_holiday_name() -> None:
    """When the policy closes a public holiday too, the holiday's own name is given."""
    calendar = WorkingDayCalendar(extra_closed_days=[date(2026, 4, 27)])
    assert calendar.holiday_name(date(2026, 4, 27)) == "Koningsdag"


def test_zero_working_days_is_the_start_itself() -> None:
    """0 working days after a date is that date, even on a Saturday or a holiday."""
    assert CALENDAR.add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 7)
    assert CALENDAR.add_working_days(date(2026, 4, 27), 0) == date(2026, 4, 27)


def test_a_negative_number_of_working_days_is_refused() -> None:
    """Deadlines only run forward: a negative count is bad input naming the field."""
    with pytest.raises(InvalidInput, match="working days must not be negative, got -1") as caught:
        CALENDAR.add_working_days(date(2026, 3, 7), -1)
    assert caught.value.field == "days"


def test_a_deadline_beyond_the_calendar_is_refused() -> None:
    """Running past 31 December 9999 is bad input, not an OverflowError."""
    with pytest.raises(InvalidInput, match="beyond the year 9999"):
        CALENDAR.add_working_days(date(9999, 12, 30), 5)


def test_a_datetime_is_refused_where_a_date_is_meant() -> None:
    """A datetime never equals a holiday's date, so it would silently skip holidays: refused."""
    with pytest.raises(InvalidInput, match="start must be a date, not datetime"):
        CALENDAR.add_working_days(datetime(2026, 4, 23, 9, 0), 5)  # noqa: DTZ001 - the point is the type
    with pytest.raises(InvalidInput, match="day must be a date, not datetime"):
        CALENDAR.is_working_day(datetime(2026, 4, 27))  # noqa: DTZ001 - the point is the type


def test_working_days_between_counts_the_half_open_span() -> None:
    """(start, end]: the start is not counted, the end is; an empty or reversed span is 0."""
    assert CALENDAR.working_days_between(date(2026, 4, 23), date(2026, 5, 1)) == 5
    assert CALENDAR.working_days_between(date(2026, 4, 23), date(2026, 4, 23)) == 0
    assert CALENDAR.working_days_between(date(2026, 5, 1), date(2026, 4, 23)) == 0


def test_2026_has_254_werkdagen() -> None:
    """261 weekdays minus 7 holidays on weekdays (Nieuwjaar, Goede vrijdag, Paasmaandag, Koningsdag, Hemelvaart, Pinkstermaandag, Eerste kerstdag)."""
    assert CALENDAR.working_days_between(date(2025, 12, 31), date(2026, 12, 31)) == 254


@given(calendar=CALENDARS, start=DAYS, days=st.integers(0, 300))
def test_counting_the_span_gives_back_the_days_added(
    calendar: WorkingDayCalendar, start: date, days: int
) -> None:
    """working_days_between(start, start + n werkdagen) == n, and the due date is a working day."""
    due = calendar.add_working_days(start, days)
    assert calendar.working_days_between(start, due) == days
    assert days == 0 or calendar.is_working_day(due)


@given(calendar=CALENDARS, start=DAYS, end=DAYS)
def test_the_count_of_a_span_is_the_last_deadline_inside_it(
    calendar: WorkingDayCalendar, start: date, end: date
) -> None:
    """With n = working_days_between(start, end): n werkdagen fit by end, n + 1 do not."""
    count = calendar.working_days_between(start, end)
    assert calendar.add_working_days(start, count) <= max(start, end)
    assert calendar.add_working_days(start, count + 1) > end


@given(calendar=CALENDARS, start=DAYS, end=DAYS)
def test_working_days_between_matches_walking_day_by_day(
    calendar: WorkingDayCalendar, start: date, end: date
) -> None:
    """The arithmetic count equals checking every day in (start, end] one by one."""
    walked = sum(
        calendar.is_working_day(start + timedelta(days=n)) for n in range(1, (end - start).days + 1)
    )
    assert calendar.working_days_between(start, end) == walked


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 2), 12, date(2027, 3, 2)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 15), -13, date(2024, 12, 15)),
        (date(2026, 5, 31), 0, date(2026, 5, 31)),
    ],
)
def test_add_months_clamps_to_the_month_end(day: date, months: int, expected: date) -> None:
    """Calendar months, clamped to the last day of a shorter month."""
    assert add_months(day, months) == expected


def test_add_months_beyond_the_calendar_is_refused() -> None:
    """A result after the year 9999 is bad input, not a ValueError."""
    with pytest.raises(InvalidInput, match="lies outside the calendar"):
        add_months(date(9999, 12, 1), 1)
