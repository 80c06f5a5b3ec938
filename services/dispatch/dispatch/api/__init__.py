from fastapi import APIRouter

from dispatch.api import assignments, branches, engineers, shifts, vendors

router = APIRouter(prefix="/v1")
for module in (assignments, branches, engineers, shifts, vendors):
    router.include_router(module.router)
