"""/v1/reports/engineers: monthly statistics per engineer."""

import uuid

from fastapi import APIRouter, Query, Request

from dispatch import reports
from dispatch.api.common import PROBLEMS
from dispatch.api.deps import Cursor, Limit, ManagerDep
from dispatch.schemas import EngineerReport
from shared.deps import SessionDep

router = APIRouter(prefix="/reports", tags=["reports"], responses=PROBLEMS)


@router.get("/engineers", response_model=EngineerReport)
async def get_engineer_report(
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    month: str = Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM", examples=["2026-03"]),
    branch_id: uuid.UUID | None = None,
    limit: Limit = 200,
    cursor: Cursor = None,
):
    """Per engineer for a month: assignments, accepted, declined, visits, median time to
    accept, escalations, service records signed (managers)."""
    time_zone = request.app.state.settings.report_time_zone
    starts_at, ends_at = reports.month_bounds(month, time_zone)
    items, next_cursor = await reports.engineers(
        session,
        month=month,
        time_zone=time_zone,
        branch_id=branch_id,
        limit=limit,
        cursor=cursor,
    )
    return EngineerReport(
        month=month,
        time_zone=time_zone,
        starts_at=starts_at,
        ends_at=ends_at,
        items=items,
        next_cursor=next_cursor,
    )
