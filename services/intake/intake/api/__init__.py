from fastapi import APIRouter

from intake.api import tickets

router = APIRouter(prefix="/v1")
router.include_router(tickets.router)
