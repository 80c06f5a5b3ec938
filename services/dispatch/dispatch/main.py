from fastapi import FastAPI

from dispatch import requeue
from dispatch.api import router
from dispatch.handlers import HANDLERS
from dispatch.settings import Settings
from shared.web import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Aftercare dispatch",
        description="Branches, engineers, shifts, routing, task orders and service records.",
        routers=[router],
        handlers=HANDLERS,
        workers=[requeue.requeue_worker],
    )
