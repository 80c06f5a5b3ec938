from fastapi import APIRouter

from intake.api import assets, calls, contacts, contracts, inbound, organizations, tickets

router = APIRouter(prefix="/v1")
for module in (tickets, organizations, contacts, contracts, assets, inbound, calls):
    router.include_router(module.router)
