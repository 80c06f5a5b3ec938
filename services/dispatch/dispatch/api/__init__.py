from fastapi import APIRouter

from dispatch.api import (
    assignments,
    branches,
    engineers,
    reports,
    shifts,
    vendors,
    workorders,
)

router = APIRouter(prefix="/v1")
for module in (assignments, branches, engineers, reports, shifts, vendors, workorders):
    router.include_router(module.router)
