"""Decision modules import no I/O library (STYLE rule 2); recurrences and holiday sources."""

import ast
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sla_timer import holiday_sources, recurrence

PURE = ("calendars", "policies", "deadlines", "explain", "recurrence", "holiday_sources")
IO = ("sqlalchemy", "sqlmodel", "asyncpg", "aio_pika", "fastapi", "httpx", "shared")
PACKAGE = Path(__file__).resolve().parents[1] / "sla_timer"


@pytest.mark.parametrize("module", PURE)
def test_a_decision_module_imports_no_io_library(module):
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])

    assert not imported & set(IO)


def test_a_quarterly_rule_keeps_its_wall_time_across_dst():
    found = recurrence.upcoming(
        "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1;BYHOUR=9",
        datetime(2026, 1, 1, 9, 0),
        "Europe/Berlin",
        datetime(2026, 1, 1, tzinfo=UTC),
        4,
    )

    assert [d.hour for d in found] == [8, 7, 7, 7]  # 09:00 CET, then CEST until late October


def test_an_occurrence_in_a_skipped_hour_fires_at_the_jump():
    found = recurrence.next_after(
        "FREQ=DAILY", datetime(2026, 3, 8, 2, 30), "America/New_York", None
    )

    assert found == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_a_rule_with_dtstart_inside_is_refused():
    with pytest.raises(recurrence.InvalidRule):
        recurrence.parse("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", datetime(2026, 1, 1))


def test_the_holidays_package_gives_china_its_make_up_workdays():
    found, workdays = holiday_sources.from_library("CN", [2026])

    assert date(2026, 10, 1) in {h.start for h in found}
    assert {w.day for w in workdays} >= {date(2026, 2, 14), date(2026, 9, 20)}


def test_an_unknown_country_is_refused():
    with pytest.raises(ValueError, match="knows no country"):
        holiday_sources.from_library("XX", [2026])
