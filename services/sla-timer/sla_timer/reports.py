"""Compliance figures: per group and timer kind, how many clocks met or missed their deadline.

A clock counts in the period its ticket started in. Met: stopped in time. Breached: stopped late,
or its breach was fired, or it runs past its deadline now. Open: still running or paused within
its budget. Cancelled clocks and observation periods are not commitments and do not count. The
met rate is met / (met + breached); for resolution clocks of faults it is DOMAIN.md's fault
repair timeliness rate.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

GroupBy = Literal["severity", "organization", "month", "policy"]

_GROUPS = {
    "severity": "severity::text",
    "organization": "organization_id::text",
    "month": "to_char(started_at AT TIME ZONE :tz, 'YYYY-MM')",
    "policy": "policy_key",
}


async def compliance(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    group_by: GroupBy,
    time_zone: str = "Asia/Shanghai",
    ticket_kind: str | None = None,
    organization_id: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    group = _GROUPS[group_by]
    filters = ""
    params: dict[str, Any] = {"start": start, "end": end, "tz": time_zone}
    if ticket_kind:
        filters += " AND ticket_kind = :ticket_kind"
        params["ticket_kind"] = ticket_kind
    if organization_id:
        filters += " AND organization_id = :org"
        params["org"] = organization_id
    rows = (
        await session.execute(
            text(
                f"""
                WITH c AS (
                    SELECT {group} AS grp, kind,
                           CASE
                             WHEN outcome = 'breached' THEN 'breached'
                             WHEN outcome = 'met' THEN 'met'
                             WHEN state = 'running' AND due_at <= now() THEN 'breached'
                             WHEN state IN ('running', 'paused') THEN 'open'
                           END AS result
                    FROM timer
                    WHERE started_at >= :start AND started_at < :end
                      AND kind <> 'observation' {filters}
                )
                SELECT grp, kind,
                       count(*) FILTER (WHERE result = 'met') AS met,
                       count(*) FILTER (WHERE result = 'breached') AS breached,
                       count(*) FILTER (WHERE result = 'open') AS open
                FROM c WHERE result IS NOT NULL
                GROUP BY grp, kind ORDER BY grp, kind
                """
            ),
            params,
        )
    ).all()
    out = []
    for row in rows:
        decided = row.met + row.breached
        out.append(
            {
                "group": row.grp,
                "timer_kind": row.kind,
                "met": row.met,
                "breached": row.breached,
                "open": row.open,
                "total": decided + row.open,
                "met_rate": round(row.met / decided, 4) if decided else None,
            }
        )
    return out


def to_csv(rows: list[dict[str, Any]], group_by: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([group_by, "timer_kind", "met", "breached", "open", "total", "met_rate"])
    for row in rows:
        rate = "" if row["met_rate"] is None else f"{row['met_rate']:.4f}"
        writer.writerow(
            [row["group"], row["timer_kind"], row["met"], row["breached"], row["open"],
             row["total"], rate]
        )  # fmt: skip
    return buffer.getvalue()
