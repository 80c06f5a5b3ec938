from fastapi import FastAPI

from notify.api import router
from notify.handlers import HANDLERS
from notify.settings import Settings
from shared.web import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Aftercare notify",
        description="Templates, channels, preferences, deliveries, surveys and proactive notices.",
        routers=[router],
        handlers=HANDLERS,
    )
