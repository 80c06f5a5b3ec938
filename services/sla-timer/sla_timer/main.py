from fastapi import FastAPI

from shared.web import create_service_app
from sla_timer.api import router
from sla_timer.handlers import HANDLERS
from sla_timer.scanner import housekeeping, scan_timers
from sla_timer.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Aftercare SLA timer",
        description="Calendars, SLA policies, deadline timers, recurring schedules and compliance.",
        routers=[router],
        handlers=HANDLERS,
        workers=[scan_timers, housekeeping],
    )
