from fastapi import APIRouter

from sla_timer.api import calendars, policies, reports, schedules, tickets

router = APIRouter(prefix="/v1")
router.include_router(calendars.router)
router.include_router(policies.router)
router.include_router(schedules.router)
router.include_router(tickets.router)
router.include_router(reports.router)
