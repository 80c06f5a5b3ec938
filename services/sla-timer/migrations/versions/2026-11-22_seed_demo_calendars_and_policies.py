"""seed demo calendars and the two policies of DOMAIN.md

Revision ID: 9d41c7a2e5b8
Revises: 3c2609b13d00
Create Date: 2026-11-22 00:30:00

Calendars: ``24x7`` and ``cn-office-hours`` (Asia/Shanghai, 08:30-12:00 and 13:00-17:00 Monday
to Friday, the State Council's 2026 holidays and make-up workdays). Policies: ``fault-levels``
(the four fault levels) and ``abcd-classes`` (the A/B/C/D classes). Inserted only where the key
is free, so an administrator's edits survive a re-run; the downgrade removes the seeded keys.
The data is frozen here on purpose: a later change to it is a new migration or an API call.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d41c7a2e5b8"
down_revision: str | None = "3c2609b13d00"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALL_DAY = [["00:00", "24:00"]]
OFFICE = [["08:30", "12:00"], ["13:00", "17:00"]]
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

CALENDARS = [
    {
        "key": "24x7",
        "name": "Around the clock (7x24x365)",
        "description": "Every minute counts: contracts with 7x24 coverage.",
        "time_zone": "Asia/Shanghai",
        "weekly_hours": {day: ALL_DAY for day in WEEK},
        "holidays": [],
        "workdays": [],
    },
    {
        "key": "cn-office-hours",
        "name": "Office hours, China (5x8)",
        "description": (
            "08:30-12:00 and 13:00-17:00 Monday to Friday in Asia/Shanghai, without the 2026 "
            "statutory holidays and with their make-up workdays (State Council schedule)."
        ),
        "time_zone": "Asia/Shanghai",
        "weekly_hours": {day: OFFICE for day in WEEK[:5]},
        "holidays": [
            {"start": "2026-01-01", "end": "2026-01-03", "name": "New Year's Day"},
            {"start": "2026-02-15", "end": "2026-02-23", "name": "Spring Festival"},
            {"start": "2026-04-04", "end": "2026-04-06", "name": "Qingming Festival"},
            {"start": "2026-05-01", "end": "2026-05-05", "name": "Labour Day"},
            {"start": "2026-06-19", "end": "2026-06-21", "name": "Dragon Boat Festival"},
            {"start": "2026-09-25", "end": "2026-09-27", "name": "Mid-Autumn Festival"},
            {"start": "2026-10-01", "end": "2026-10-07", "name": "National Day"},
        ],
        "workdays": [
            {"date": "2026-01-04", "name": "make-up workday for New Year's Day"},
            {"date": "2026-02-14", "name": "make-up workday for the Spring Festival"},
            {"date": "2026-02-28", "name": "make-up workday for the Spring Festival"},
            {"date": "2026-05-09", "name": "make-up workday for Labour Day"},
            {"date": "2026-09-20", "name": "make-up workday for National Day"},
            {"date": "2026-10-10", "name": "make-up workday for National Day"},
        ],
    },
]

CHANNELS = {
    "phone": {"response": 15},
    "walk_in": {"response": 15},
    "email": {"response": 720},
    "fax": {"response": 720},
}

POLICIES = [
    {
        "key": "fault-levels",
        "name": "Four fault levels",
        "description": (
            "Level 1 system down: respond 1 h, on site 2 h (in the city), solved 5 h, reported "
            "upward 2 h. Levels 2-4: respond 2 h, on site 24/48/96 h if needed, reported upward "
            "24/48/96 h. Consultations: answer 1 h, solution 3 h. Complaints: 20 min. Phone and "
            "walk-in 15 min, fax and email 12 h. Nothing later than 24 h."
        ),
        "rows": [
            {
                "kind": "fault",
                "severity": 1,
                "response": 60,
                "on_site": 120,
                "resolution": 300,
                "progress": 120,
            },
            {"kind": "fault", "severity": 2, "response": 120, "on_site": 1440, "progress": 1440},
            {"kind": "fault", "severity": 3, "response": 120, "on_site": 2880, "progress": 2880},
            {"kind": "fault", "severity": 4, "response": 120, "on_site": 5760, "progress": 5760},
            {"kind": "consultation", "severity": None, "response": 60, "resolution": 180},
        ],
        "channel_overrides": CHANNELS,
        "complaint_response_minutes": 20,
        "default_response_minutes": 1440,
        "observation_minutes": 7 * 1440,
        "warning_thresholds": [0.75, 0.9],
    },
    {
        "key": "abcd-classes",
        "name": "A/B/C/D classes",
        "description": (
            "A (severity 1) system cannot run: on site 2 h in the city, solution 48 h. B "
            "(severity 2) affects correct running: on site 48 h, solution plan 72 h. C (severity "
            "3) no impact but must be fixed: answer 72 h, plan 108 h. D (severity 4) "
            "enhancement: negotiated. Complaints 30 min; channel targets as DOMAIN.md; nothing "
            "later than 24 h."
        ),
        "rows": [
            {"kind": "fault", "severity": 1, "on_site": 120, "resolution": 2880},
            {"kind": "fault", "severity": 2, "on_site": 2880, "resolution": 4320},
            {"kind": "fault", "severity": 3, "response": 4320, "resolution": 6480},
            {"kind": "fault", "severity": 4},
        ],
        "channel_overrides": CHANNELS,
        "complaint_response_minutes": 30,
        "default_response_minutes": 1440,
        "observation_minutes": 7 * 1440,
        "warning_thresholds": [0.75, 0.9],
    },
]

# Ids fixed so that every machine's demo data is the same.
IDS = {
    "24x7": "0192f000-0000-7000-8000-00000000c001",
    "cn-office-hours": "0192f000-0000-7000-8000-00000000c002",
    "fault-levels": "0192f000-0000-7000-8000-00000000a001",
    "abcd-classes": "0192f000-0000-7000-8000-00000000a002",
}


def upgrade() -> None:
    for cal in CALENDARS:
        op.execute(
            sa.text(
                "INSERT INTO sla.calendar (id, key, name, description, time_zone, weekly_hours,"
                " holidays, workdays) VALUES (CAST(:id AS uuid), :key, :name, :description,"
                " :time_zone,"
                " CAST(:weekly AS jsonb), CAST(:holidays AS jsonb), CAST(:workdays AS jsonb))"
                " ON CONFLICT (key) DO NOTHING"
            ).bindparams(
                id=IDS[cal["key"]],
                key=cal["key"],
                name=cal["name"],
                description=cal["description"],
                time_zone=cal["time_zone"],
                weekly=json.dumps(cal["weekly_hours"]),
                holidays=json.dumps(cal["holidays"]),
                workdays=json.dumps(cal["workdays"]),
            )
        )
    for policy in POLICIES:
        rows = [{k: v for k, v in row.items() if v is not None or k == "severity"} for row in
                policy["rows"]]  # fmt: skip
        op.execute(
            sa.text(
                "INSERT INTO sla.policy (id, key, name, description, rows, channel_overrides,"
                " complaint_response_minutes, default_response_minutes, observation_minutes,"
                " warning_thresholds) VALUES (CAST(:id AS uuid), :key, :name, :description,"
                " CAST(:rows AS jsonb), CAST(:channels AS jsonb), :complaint, :default,"
                " :observation, CAST(:thresholds AS jsonb)) ON CONFLICT (key) DO NOTHING"
            ).bindparams(
                id=IDS[policy["key"]],
                key=policy["key"],
                name=policy["name"],
                description=policy["description"],
                rows=json.dumps(rows),
                channels=json.dumps(policy["channel_overrides"]),
                complaint=policy["complaint_response_minutes"],
                default=policy["default_response_minutes"],
                observation=policy["observation_minutes"],
                thresholds=json.dumps(policy["warning_thresholds"]),
            )
        )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM sla.policy WHERE key IN ('fault-levels', 'abcd-classes')"))
    op.execute(sa.text("DELETE FROM sla.calendar WHERE key IN ('24x7', 'cn-office-hours')"))
