"""Liveness and readiness (DESIGN §2): /healthz says the process runs, /readyz that its
database and broker answer."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Database and broker are reachable")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    checks = {"database": "ok", "broker": "ok"}
    try:
        async with state.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), 2)
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if not state.broker.is_connected:
        checks["broker"] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
