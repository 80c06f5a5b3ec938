from datetime import UTC, date, datetime, timedelta

from intake.warranty import Downtime, effective

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def t(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


def test_short_downtimes_do_not_extend_the_warranty():
    w = effective(date(2027, 1, 1), [Downtime(100001, t(40), t(20))], now=NOW)

    assert w.effective_end == date(2027, 1, 1)
    assert w.extensions == ()


def test_a_downtime_over_a_month_extends_by_three_times_its_length():
    w = effective(date(2027, 1, 1), [Downtime(100002, t(100), t(60))], now=NOW)

    assert w.effective_end == date(2027, 1, 1) + timedelta(days=120)
    (ext,) = w.extensions
    assert ext.downtime == timedelta(days=40)
    assert "#100002" in ext.reason and "more than 30 days" in ext.reason


def test_a_device_still_down_counts_until_now():
    w = effective(date(2026, 12, 1), [Downtime(100003, t(31), None)], now=NOW)

    assert w.effective_end == date(2026, 12, 1) + timedelta(days=93)
    assert "to now" in w.extensions[0].reason


def test_each_long_downtime_extends_on_its_own():
    w = effective(
        date(2027, 1, 1),
        [Downtime(1, t(200), t(160)), Downtime(2, t(50), t(45)), Downtime(3, t(100), t(65))],
        now=NOW,
    )

    assert [e.ticket_number for e in w.extensions] == [1, 3]
    assert w.effective_end == date(2027, 1, 1) + timedelta(days=3 * 40 + 3 * 35)


def test_no_base_warranty_means_no_coverage():
    w = effective(None, [Downtime(1, t(90), t(10))], now=NOW)

    assert w.effective_end is None
    assert not w.covers(NOW.date())
