"""/v1/sla/reports: compliance figures as JSON or CSV."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime

from shared import http
from shared.events.types import TicketKind
from sla_timer import reports
from sla_timer.api.deps import ReaderDep, SessionDep
from sla_timer.calendars import CalendarError, zone
from sla_timer.schemas import ComplianceReport

router = APIRouter(prefix="/sla/reports", tags=["reports"])


@router.get(
    "/compliance",
    response_model=ComplianceReport,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def get_compliance(
    request: Request,
    session: SessionDep,
    actor: ReaderDep,
    from_: Annotated[AwareDatetime, Query(alias="from")],
    to: AwareDatetime,
    group_by: reports.GroupBy = "severity",
    ticket_kind: TicketKind | None = None,
    organization_id: uuid.UUID | None = None,
    time_zone: Annotated[str, Query(description="Zone of the month boundaries")] = "Asia/Shanghai",
    format: Literal["json", "csv"] | None = None,
):
    """Met and breached counts and rates per group and timer kind (JSON, or CSV)."""
    if to <= from_:
        raise http.Problem("to must be after from")
    try:
        zone(time_zone)
    except CalendarError as exc:
        raise http.Problem(str(exc))
    rows = await reports.compliance(
        session,
        start=from_,
        end=to,
        group_by=group_by,
        time_zone=time_zone,
        ticket_kind=ticket_kind,
        organization_id=organization_id,
    )
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv:
        return PlainTextResponse(
            reports.to_csv(rows, group_by),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="sla-compliance.csv"'},
        )
    return ComplianceReport.model_validate(
        {"from": from_, "to": to, "group_by": group_by, "rows": rows}
    )
