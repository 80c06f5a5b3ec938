"""Monthly statistics per engineer, for performance reviews (DOMAIN.md: "monthly statistics
per engineer (number of services, complaints) feed performance reviews").

A month runs from the first day 00:00 to the next month's first day 00:00 in the report time
zone (``AFTERCARE_REPORT_TIME_ZONE``, default Asia/Shanghai). Each figure counts what happened
in the month: assignments received, accepted, declined and handed back; on-site visits; the
median time from assignment to acceptance; escalations away from the engineer; service
records the customer signed.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.crud import MAX_LIMIT
from dispatch.schemas import EngineerMonth
from shared import http


class InvalidMonth(http.Problem):
    status = 422
    type = "invalid-month"
    title = "month must be YYYY-MM"


def month_bounds(month: str, time_zone: str) -> tuple[datetime, datetime]:
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise InvalidMonth(f"{month!r} is not a month like 2026-03")
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    tz = ZoneInfo(time_zone)
    return (
        datetime.combine(first, datetime.min.time(), tzinfo=tz),
        datetime.combine(following, datetime.min.time(), tzinfo=tz),
    )


_REPORT = text(
    """
    WITH a AS (
        SELECT engineer_id,
               count(*) FILTER (WHERE assigned_at >= :start AND assigned_at < :end) AS assignments,
               count(*) FILTER (WHERE accepted_at >= :start AND accepted_at < :end) AS accepted,
               count(*) FILTER (WHERE end_reason = 'declined'
                                AND ended_at >= :start AND ended_at < :end) AS declined,
               count(*) FILTER (WHERE end_reason = 'handed_back'
                                AND ended_at >= :start AND ended_at < :end) AS handed_back,
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM accepted_at - assigned_at)
               ) FILTER (WHERE accepted_at >= :start AND accepted_at < :end) AS median_accept
        FROM assignment
        WHERE (assigned_at >= :start AND assigned_at < :end)
           OR (accepted_at >= :start AND accepted_at < :end)
           OR (ended_at >= :start AND ended_at < :end)
        GROUP BY engineer_id
    ),
    v AS (
        SELECT engineer_id, count(*) AS visits FROM visit
        WHERE checked_in_at >= :start AND checked_in_at < :end GROUP BY engineer_id
    ),
    x AS (
        SELECT from_engineer_id AS engineer_id, count(*) AS escalations FROM escalation
        WHERE escalated_at >= :start AND escalated_at < :end AND from_engineer_id IS NOT NULL
        GROUP BY from_engineer_id
    ),
    s AS (
        SELECT engineer_id, count(*) AS signed FROM service_record
        WHERE signed_at >= :start AND signed_at < :end GROUP BY engineer_id
    )
    SELECT e.id AS engineer_id, e.name, e.branch_id, e.tier,
           coalesce(a.assignments, 0) AS assignments, coalesce(a.accepted, 0) AS accepted,
           coalesce(a.declined, 0) AS declined, coalesce(a.handed_back, 0) AS handed_back,
           coalesce(v.visits, 0) AS visits, a.median_accept AS median_accept_seconds,
           coalesce(x.escalations, 0) AS escalations,
           coalesce(s.signed, 0) AS service_records_signed
    FROM engineer e
    LEFT JOIN a ON a.engineer_id = e.id
    LEFT JOIN v ON v.engineer_id = e.id
    LEFT JOIN x ON x.engineer_id = e.id
    LEFT JOIN s ON s.engineer_id = e.id
    WHERE (CAST(:branch AS uuid) IS NULL OR e.branch_id = CAST(:branch AS uuid))
      AND (CAST(:after AS uuid) IS NULL OR e.id > CAST(:after AS uuid))
      AND (e.active OR a.engineer_id IS NOT NULL OR v.engineer_id IS NOT NULL
           OR x.engineer_id IS NOT NULL OR s.engineer_id IS NOT NULL)
    ORDER BY e.id
    LIMIT :limit
    """
)


async def engineers(
    session: AsyncSession,
    *,
    month: str,
    time_zone: str,
    branch_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[EngineerMonth], str | None]:
    start, end = month_bounds(month, time_zone)
    limit = max(1, min(limit, MAX_LIMIT))
    after = None
    if cursor:
        try:
            after = uuid.UUID(str(http.decode_cursor(cursor)[0]))
        except (ValueError, IndexError):
            raise http.InvalidCursor("the cursor is not one this API returned")
    rows = list(
        await session.execute(
            _REPORT,
            {
                "start": start,
                "end": end,
                "branch": branch_id,
                "after": after,
                "limit": limit + 1,
            },
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        EngineerMonth(
            **{
                **r._mapping,
                "median_accept_seconds": (
                    round(r.median_accept_seconds, 1)
                    if r.median_accept_seconds is not None
                    else None
                ),
            }
        )
        for r in rows
    ]
    return items, http.encode_cursor([str(rows[-1].engineer_id)]) if more else None
