"""The ceiling for ticket_flow: a bare FastAPI endpoint that inserts the same ticket row.

``POST /tickets`` validates the body with a pydantic model, inserts one row into
``bench.ticket`` (a copy of ``intake.ticket``: its columns, defaults, checks and indexes) in
one transaction (a single INSERT ... RETURNING on an asyncpg pool) and answers 201 with the
row. No outbox, no auth, no gateway, no consumers, no middleware: what one uvicorn process
(uvloop, httptools) on this machine can do when it only writes the row.

    .venv/bin/python bench/bare_insert.py --dsn postgresql://... --port 10190 [--create-table]

ticket_flow starts and stops it; ``create_table(dsn)`` makes the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Literal

import asyncpg
from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from shared.ids import new_id


class TicketCreate(BaseModel):
    """The body ticket_flow posts, validated as intake validates it (bounds, enums, uuid)."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=100_000)
    severity: int = Field(default=3, ge=1, le=4)
    organization_id: uuid.UUID
    kind: Literal[
        "consultation", "fault", "complaint", "change", "upgrade", "inspection", "rma"
    ] = "fault"
    channel: Literal["phone", "email", "web", "other"] = "web"


# LIKE copies the columns, defaults, CHECK constraints and indexes of intake.ticket (not its
# foreign keys), so the row stays the same as intake's whatever its migrations add.
DDL = [
    "CREATE SCHEMA IF NOT EXISTS bench",
    "CREATE SEQUENCE IF NOT EXISTS bench.ticket_number_seq START 100001",
    "CREATE TABLE IF NOT EXISTS bench.ticket (LIKE intake.ticket INCLUDING ALL)",
    "ALTER TABLE bench.ticket ALTER COLUMN number SET DEFAULT nextval('bench.ticket_number_seq')",
]

# The statement for a table of intake.ticket's shape ({table}); its parameters: insert_args.
INSERT_INTO = """
    INSERT INTO {table}
        (id, organization_id, subject, description, kind, channel, severity, created_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    RETURNING *
"""
INSERT = INSERT_INTO.format(table="bench.ticket")


def insert_args(body: TicketCreate, created_by: str) -> tuple:
    """INSERT's parameters for a new ticket of this body."""
    return (
        new_id(),
        body.organization_id,
        body.subject,
        body.description,
        body.kind,
        body.channel,
        body.severity,
        created_by,
    )


async def create_table(dsn: str) -> None:
    """The same columns, defaults, constraints and indexes as intake.ticket, in schema bench."""
    conn = await asyncpg.connect(dsn)
    try:
        for statement in DDL:
            await conn.execute(statement)
    finally:
        await conn.close()


def create_app(dsn: str, pool_size: int = 20) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            dsn, min_size=pool_size, max_size=pool_size, server_settings={"timezone": "UTC"}
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/tickets", status_code=201)
    async def create_ticket(body: TicketCreate) -> JSONResponse:
        async with app.state.pool.acquire() as conn:
            row = await conn.fetchrow(INSERT, *insert_args(body, "bench"))
        return JSONResponse(jsonable_encoder(dict(row)), status_code=201)

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pool-size", type=int, default=20)
    parser.add_argument("--create-table", action="store_true")
    args = parser.parse_args()
    if args.create_table:
        asyncio.run(create_table(args.dsn))
    uvicorn.run(
        create_app(args.dsn, args.pool_size),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
