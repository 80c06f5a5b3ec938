from fastapi import FastAPI

from intake.api import router
from intake.handlers import HANDLERS
from intake.settings import Settings
from shared.web import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Aftercare intake",
        description="The customer register, tickets and every inbound channel.",
        routers=[router],
        handlers=HANDLERS,
    )
