from fastapi import APIRouter

from intake.api import assets, contacts, contracts, organizations, tickets

router = APIRouter(prefix="/v1")
for module in (tickets, organizations, contacts, contracts, assets):
    router.include_router(module.router)
