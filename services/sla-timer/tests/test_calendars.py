"""Business-time arithmetic: examples a person can check, and properties over random calendars."""

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla_timer.calendars import (
    Calendar,
    CalendarError,
    Holiday,
    NoWorkingTime,
    Workday,
    format_duration,
    parse_intervals,
    to_utc,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = parse_intervals([["08:30", "12:00"], ["13:00", "17:00"]])
SPRING_FESTIVAL = [
    Holiday(date(2026, 1, 1), date(2026, 1, 3), "New Year"),
    Holiday(date(2026, 2, 15), date(2026, 2, 23), "Spring Festival"),
]
MAKE_UP = [Workday(date(2026, 1, 4)), Workday(date(2026, 2, 14)), Workday(date(2026, 2, 28))]


def office(zone="Asia/Shanghai", holidays=SPRING_FESTIVAL, workdays=MAKE_UP) -> Calendar:
    return Calendar(zone, {i: OFFICE for i in range(5)}, holidays=holidays, workdays=workdays)


def local(tz, *args) -> datetime:
    return datetime(*args, tzinfo=tz)


def test_a_deadline_skips_the_lunch_break():
    cal = office()

    due = cal.add(local(SHANGHAI, 2026, 3, 2, 11, 30), timedelta(hours=1))

    assert due == local(SHANGHAI, 2026, 3, 2, 13, 30)


def test_a_deadline_that_uses_the_day_up_falls_at_closing_time_not_next_morning():
    cal = office()

    due = cal.add(local(SHANGHAI, 2026, 3, 2, 16, 0), timedelta(hours=1))

    assert due == local(SHANGHAI, 2026, 3, 2, 17, 0)


def test_friday_evening_report_is_due_monday_morning():
    cal = office()

    due = cal.add(local(SHANGHAI, 2026, 3, 6, 19, 0), timedelta(hours=2))

    assert due == local(SHANGHAI, 2026, 3, 9, 10, 30)


def test_a_make_up_saturday_counts_and_a_holiday_range_does_not():
    cal = office()
    start = local(SHANGHAI, 2026, 2, 13, 16, 0)

    assert cal.add(start, timedelta(hours=2)) == local(SHANGHAI, 2026, 2, 14, 9, 30)
    # Saturday 14 Feb is a full make-up day (7.5 h); then 15-23 Feb are the festival.
    assert cal.add(start, timedelta(hours=9)) == local(SHANGHAI, 2026, 2, 24, 9, 0)


def test_elapsed_counts_only_open_time():
    cal = office()

    worked = cal.elapsed(local(SHANGHAI, 2026, 3, 6, 16, 0), local(SHANGHAI, 2026, 3, 9, 9, 0))

    assert worked == timedelta(hours=1, minutes=30)


def test_twenty_four_seven_is_plain_addition():
    cal = Calendar.twenty_four_seven("Asia/Shanghai")
    start = datetime(2026, 3, 2, 1, 15, tzinfo=UTC)

    assert cal.add(start, timedelta(minutes=90)) == start + timedelta(minutes=90)


def test_a_new_york_day_is_23_hours_in_spring_and_25_in_autumn():
    cal = Calendar("America/New_York", {i: ((0, 1440),) for i in range(7)}, name="ny")
    cal.always_open = False  # take the general path on purpose

    spring = cal.elapsed(local(NEW_YORK, 2026, 3, 8), local(NEW_YORK, 2026, 3, 9))
    autumn = cal.elapsed(local(NEW_YORK, 2026, 11, 1), local(NEW_YORK, 2026, 11, 2))

    assert spring == timedelta(hours=23)
    assert autumn == timedelta(hours=25)


def test_an_interval_starting_in_the_skipped_hour_starts_at_the_jump():
    night = parse_intervals([["02:30", "04:00"]])
    cal = Calendar("America/New_York", {i: night for i in range(7)})

    spans = cal.spans_on(date(2026, 3, 8))

    # 02:30 does not exist that night: the clock jumps from 02:00 EST to 03:00 EDT.
    assert spans == (
        (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), datetime(2026, 3, 8, 8, 0, tzinfo=UTC)),
    )


def test_an_interval_over_the_repeated_hour_counts_it_twice():
    night = parse_intervals([["01:00", "03:00"]])
    cal = Calendar("America/New_York", {i: night for i in range(7)})

    total = cal.elapsed(local(NEW_YORK, 2026, 11, 1), local(NEW_YORK, 2026, 11, 2))

    assert total == timedelta(hours=3)


def test_berlin_office_hours_across_the_spring_change():
    cal = office("Europe/Berlin", holidays=(), workdays=())
    tz = ZoneInfo("Europe/Berlin")

    due = cal.add(local(tz, 2026, 3, 27, 16, 0), timedelta(hours=2))

    assert due == local(tz, 2026, 3, 30, 9, 30)
    assert due.astimezone(tz).utcoffset() == timedelta(hours=2)


def test_to_utc_picks_first_occurrence_unless_asked_for_the_last():
    wall = datetime(2026, 11, 1, 1, 30)

    assert to_utc(NEW_YORK, wall) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert to_utc(NEW_YORK, wall, latest=True) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_bad_definitions_say_what_is_wrong():
    with pytest.raises(CalendarError, match="overlap"):
        parse_intervals([["08:00", "12:00"], ["11:00", "13:00"]])
    with pytest.raises(CalendarError, match="HH:MM"):
        parse_intervals([["8am", "12:00"]])
    with pytest.raises(CalendarError, match="IANA"):
        Calendar("Mars/Olympus", {})
    with pytest.raises(CalendarError, match="both a holiday and a make-up"):
        Calendar("UTC", {}, holidays=[Holiday(date(2026, 1, 4), date(2026, 1, 4))],
                 workdays=[Workday(date(2026, 1, 4))])  # fmt: skip


def test_a_calendar_with_no_working_time_refuses_to_search_forever():
    cal = Calendar("UTC", {})

    with pytest.raises(NoWorkingTime):
        cal.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1))


def test_describe_hours_groups_equal_weekdays():
    assert office().describe_hours() == "Mon-Fri 08:30-12:00, 13:00-17:00"


def test_closed_stretches_name_the_holidays_and_make_up_days():
    phrases = office().closed_stretches(
        local(SHANGHAI, 2026, 2, 13, 16), local(SHANGHAI, 2026, 2, 24, 9)
    )

    assert "Sat 14 Feb 2026: worked as a make-up workday (make-up workday)" in phrases
    assert "Sun 15 Feb 2026-Mon 23 Feb 2026: Spring Festival" in phrases


def test_format_duration():
    assert format_duration(timedelta(hours=1, minutes=30)) == "1 h 30 min"
    assert format_duration(timedelta(0)) == "0 s"


# ---- properties ---------------------------------------------------------------------------

ZONES = st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/Berlin", "UTC"])


@st.composite
def day_hours(draw):
    points = sorted(draw(st.sets(st.integers(0, 96), min_size=0, max_size=6)))
    if len(points) % 2:
        points = points[:-1]
    return tuple((points[i] * 15, points[i + 1] * 15) for i in range(0, len(points), 2))


@st.composite
def calendars(draw):
    weekly = {i: draw(day_hours()) for i in range(7)}
    if sum(b - a for hours in weekly.values() for a, b in hours) < 240:
        # Enough working time that 200 h fit in the search horizon (3 years).
        weekly[0] = ((510, 720), (780, 1020))
    base = date(2026, 1, 1)
    closed = draw(st.sets(st.integers(0, 400), max_size=30))
    holidays = [Holiday(base + timedelta(days=d), base + timedelta(days=d)) for d in closed]
    extra = draw(st.sets(st.integers(0, 400), max_size=10)) - closed
    workdays = [Workday(base + timedelta(days=d)) for d in extra]
    return Calendar(draw(ZONES), weekly, holidays=holidays, workdays=workdays)


instants = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 1, 31), timezones=st.just(UTC)
)
budgets = st.integers(1, 200 * 3600 * 1_000_000).map(lambda us: timedelta(microseconds=us))


@settings(max_examples=300, deadline=None)
@given(cal=calendars(), start=instants, budget=budgets)
def test_adding_then_measuring_gives_back_the_budget(cal, start, budget):
    due = cal.add(start, budget)

    assert cal.elapsed(start, due) == budget


@settings(max_examples=300, deadline=None)
@given(cal=calendars(), start=instants, budget=budgets)
def test_a_deadline_never_falls_in_closed_time(cal, start, budget):
    due = cal.add(start, budget)

    just_before = due - timedelta(microseconds=1)
    assert cal.is_open(just_before)
    assert cal.is_open(due) or not cal.is_open(due + timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), a=instants, b=instants, c=instants)
def test_elapsed_adds_up_over_consecutive_windows(cal, a, b, c):
    a, b, c = sorted((a, b, c))

    assert cal.elapsed(a, c) == cal.elapsed(a, b) + cal.elapsed(b, c)


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), start=instants, x=budgets, y=budgets)
def test_more_budget_never_gives_an_earlier_deadline(cal, start, x, y):
    small, large = sorted((x, y))

    assert cal.add(start, small) <= cal.add(start, large)


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), day=st.dates(date(2025, 12, 1), date(2027, 1, 31)))
def test_a_dates_spans_are_disjoint_and_within_that_date(cal, day):
    spans = cal.spans_on(day)
    first = cal._boundary(day, 0, latest=False)
    last = cal._boundary(day, 1440, latest=False)

    for a, b in spans:
        assert first <= a < b <= last
    for (_, b), (a, _) in itertools.pairwise(spans):
        assert b < a
