from fastapi import FastAPI

from kb.api import router
from kb.handlers import HANDLERS
from kb.settings import Settings
from shared.web import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or Settings(),
        title="Aftercare knowledge base",
        description="Articles, categories, search, suggestions and quarterly reports.",
        routers=[router],
        handlers=HANDLERS,
    )
