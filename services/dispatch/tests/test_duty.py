"""Shifts, exceptions and on-call (dispatch/duty.py): pure, no fixtures."""

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dispatch.duty import (
    DutyException,
    OnCallSlot,
    Schedule,
    WeeklyShift,
    duty_at,
    next_duty_start,
    unchanged_until,
)

OFFICE = WeeklyShift(frozenset({1, 2, 3, 4, 5}), time(8, 30), time(17, 0), "Asia/Shanghai")
NIGHT = WeeklyShift(frozenset({5}), time(22, 0), time(6, 0), "Asia/Shanghai")


def shanghai(y, m, d, hh, mm=0) -> datetime:
    # Shanghai is UTC+8 all year (no daylight saving).
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=8)


def test_office_shift_covers_weekday_office_hours_in_its_time_zone():
    monday_morning = shanghai(2026, 3, 2, 8, 30)

    assert OFFICE.covers(monday_morning)
    assert OFFICE.covers(shanghai(2026, 3, 2, 16, 59))
    assert not OFFICE.covers(shanghai(2026, 3, 2, 17, 0))
    assert not OFFICE.covers(shanghai(2026, 3, 2, 8, 29))
    assert not OFFICE.covers(shanghai(2026, 3, 7, 10, 0))  # Saturday


def test_overnight_shift_belongs_to_the_day_it_starts():
    friday_night = shanghai(2026, 3, 6, 23)
    saturday_early = shanghai(2026, 3, 7, 5, 59)

    assert NIGHT.covers(friday_night)
    assert NIGHT.covers(saturday_early)
    assert not NIGHT.covers(shanghai(2026, 3, 7, 6, 0))
    assert not NIGHT.covers(shanghai(2026, 3, 6, 5))  # Friday early: Thursday had no night


def test_equal_start_and_end_is_a_24_hour_shift():
    all_day = WeeklyShift(frozenset({3}), time(0, 0), time(0, 0), "UTC")

    assert all_day.covers(datetime(2026, 3, 4, 0, 0, tzinfo=UTC))
    assert all_day.covers(datetime(2026, 3, 4, 23, 59, tzinfo=UTC))
    assert not all_day.covers(datetime(2026, 3, 5, 0, 0, tzinfo=UTC))


def test_shift_follows_daylight_saving_in_its_zone():
    berlin = WeeklyShift(frozenset(range(1, 8)), time(9), time(17), "Europe/Berlin")

    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
    assert berlin.covers(datetime(2026, 1, 15, 8, 0, tzinfo=UTC))
    assert not berlin.covers(datetime(2026, 1, 15, 7, 30, tzinfo=UTC))
    assert berlin.covers(datetime(2026, 7, 15, 7, 0, tzinfo=UTC))


def test_validity_dates_bound_the_days_a_shift_starts_on():
    shift = WeeklyShift(frozenset({1}), time(22), time(6), "UTC", valid_until=date(2026, 3, 2))

    assert shift.covers(datetime(2026, 3, 3, 5, tzinfo=UTC))  # Monday's night, into Tuesday
    assert not shift.covers(datetime(2026, 3, 9, 23, tzinfo=UTC))  # next Monday: expired


def test_leave_takes_an_engineer_off_shift_and_off_call():
    at = shanghai(2026, 3, 2, 10)
    leave = DutyException("leave", at - timedelta(hours=1), at + timedelta(days=2), "annual leave")
    slot = OnCallSlot(at - timedelta(hours=1), at + timedelta(hours=1))

    duty = duty_at(Schedule((OFFICE,), (leave,), (slot,)), at)

    assert not duty.on_shift and not duty.on_call
    assert "annual leave" in duty.why


def test_extra_duty_puts_an_engineer_on_shift_outside_their_hours():
    sunday = shanghai(2026, 3, 8, 10)
    swap = DutyException("extra_duty", sunday - timedelta(hours=2), sunday + timedelta(hours=6))

    assert duty_at(Schedule((OFFICE,), (swap,)), sunday).on_shift
    assert not duty_at(Schedule((OFFICE,)), sunday).on_shift


def test_branch_closure_cancels_shifts_but_not_on_call():
    holiday = shanghai(2026, 10, 1, 10)
    closure = DutyException("closure", shanghai(2026, 10, 1, 0), shanghai(2026, 10, 8, 0), "国庆")
    slot = OnCallSlot(shanghai(2026, 10, 1, 0), shanghai(2026, 10, 2, 0))

    closed = duty_at(Schedule((OFFICE,), (closure,)), holiday)
    on_call = duty_at(Schedule((OFFICE,), (closure,), (slot,)), holiday)

    assert not closed.available and "closed" in closed.why
    assert on_call.on_call and not on_call.on_shift


def test_next_duty_start_finds_the_earliest_shift_or_slot_start():
    friday_evening = shanghai(2026, 3, 6, 18)
    slot = OnCallSlot(shanghai(2026, 3, 6, 20), shanghai(2026, 3, 7, 8))

    assert next_duty_start([Schedule((NIGHT,))], friday_evening) == shanghai(2026, 3, 6, 22)
    assert next_duty_start([Schedule((NIGHT,)), Schedule(on_call=(slot,))], friday_evening) == (
        shanghai(2026, 3, 6, 20)
    )
    assert next_duty_start([Schedule((OFFICE,))], friday_evening) == shanghai(2026, 3, 9, 8, 30)
    assert next_duty_start([Schedule()], friday_evening) is None


@given(
    start=st.integers(0, 23 * 60 + 59),
    length=st.integers(1, 24 * 60),
    probe=st.integers(0, 7 * 24 * 60 - 1),
)
def test_a_daily_shift_covers_exactly_its_minutes(start, length, probe):
    end = (start + length) % (24 * 60)
    shift = WeeklyShift(
        frozenset(range(1, 8)), time(start // 60, start % 60), time(end // 60, end % 60), "UTC"
    )
    at = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(minutes=probe)

    minute_of_day = probe % (24 * 60)
    inside = (minute_of_day - start) % (24 * 60) < (length if length < 24 * 60 else 24 * 60)
    assert shift.covers(at) == inside


@given(probe=st.integers(0, 14 * 24 * 60))
def test_next_start_is_a_start_and_nothing_starts_before_it(probe):
    after = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(minutes=probe)

    found = OFFICE.next_start(after)

    assert found is not None and found > after
    assert OFFICE.covers(found)
    assert not OFFICE.covers(found - timedelta(minutes=1))
    assert found - after <= timedelta(days=3, hours=1)


MIDNIGHT = WeeklyShift(frozenset({1, 3, 7}), time(0, 0), time(8, 0), "Europe/Berlin")
LATE = WeeklyShift(frozenset({2, 6}), time(16, 0), time(0, 0), "America/New_York")


@given(
    start=st.datetimes(
        min_value=datetime(2026, 3, 1), max_value=datetime(2026, 3, 31), timezones=st.just(UTC)
    ),
    steps=st.lists(st.integers(min_value=0, max_value=3600 * 1000), min_size=1, max_size=20),
)
def test_duty_does_not_change_before_the_instant_unchanged_until_gives(start, steps):
    t0 = shanghai(2026, 3, 6, 21)
    schedule = Schedule(
        shifts=(OFFICE, NIGHT, MIDNIGHT, LATE),
        exceptions=(
            DutyException("leave", t0, t0 + timedelta(hours=3, seconds=7), "dentist"),
            DutyException("closure", t0 + timedelta(days=5), t0 + timedelta(days=6)),
            DutyException("extra_duty", t0 - timedelta(days=3), t0 - timedelta(days=2)),
        ),
        on_call=(OnCallSlot(t0 + timedelta(minutes=90), t0 + timedelta(hours=30)),),
    )
    until = unchanged_until(schedule, start, limit=timedelta(hours=2))
    assert start < until <= start + timedelta(hours=2)
    expected = duty_at(schedule, start)
    for ms in steps:
        at = start + timedelta(milliseconds=ms)
        if at < until:
            assert duty_at(schedule, at) == expected
