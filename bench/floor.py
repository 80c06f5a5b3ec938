"""floor: the shared mechanisms alone: what they cost per ticket, and the rate they sustain.

ticket_flow measures the whole stack. This runs the same path with every piece of domain work
taken out, so that the two, run on the same machine, say how much of a ticket's cost is the
contract's mechanisms (DESIGN §4, §6, §7) and how much is what the services do on top:

* the gateway: the same nginx configuration, started by ``stack.py start --only gateway``;
* in intake's place, one process on ``shared.web.create_service_app`` (its middleware, problem
  responses, metrics and JWT authentication) on intake's port, role and schema. Its
  ``POST /v1/tickets`` validates the body (bare_insert's model: intake's bounds), inserts the
  row into ``intake.floor_ticket`` (a copy of ``intake.ticket`` without foreign keys, as
  bare_insert's) and writes a full ``ticket.created`` to intake's outbox, in one transaction,
  and answers 201 with the row. The outbox relay (hand-over, publisher confirms) runs in the
  same process, as in intake;
* in each consumer's place (dispatch, sla-timer, notify, kb), one process on the same factory
  with ``shared.bus.Consumer`` on that consumer's queue and inbox, bound to ``ticket.created``
  only, whose handler inserts a projection row into ``<schema>.floor_ticket`` (kb's handler:
  one statement, the columns of ``kb.ticket``).

No contacts, contracts or policies are looked up, no history is written, nothing is routed or
timed, and no event comes back. Everything else is ticket_flow's: the database and broker
names of the run, the bare-insert ceiling, the open-loop windows, the rate search, the CPU
meter and the JSON (``benchmark`` is ``floor``, ``stack.via`` says how it ran). Its own port
offset (2200) and var dir (``var/bench-floor``) let it run beside a stack.

    .venv/bin/python bench/run.py --only floor [--quick]
    .venv/bin/python bench/floor.py [ticket_flow's flags]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import bare_insert  # bench/, beside this file
import ticket_flow
import uvloop
from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from shared import events, outbox
from shared.bus import driver_only
from shared.db import driver
from shared.deps import ActorDep, SessionDep
from shared.services import REPO_ROOT, lookup
from shared.settings import ServiceSettings
from shared.web import create_service_app

NAME = "floor"
TABLE = "floor_ticket"
API = "intake"
_HERE = Path(__file__).resolve()


# ---- the processes (``floor.py serve SERVICE``) -------------------------------------------


def settings_for(service: str) -> Any:
    """The settings of the real service of this name: its schema, role and queue."""
    info = lookup(service)

    class Settings(ServiceSettings):
        service: ClassVar[str] = info.name
        db_schema: ClassVar[str] = info.schema

    return Settings(role="all" if service == API else "worker")


def api_app(settings: Any) -> Any:
    """intake's place: validate, insert the row and its ticket.created, commit, answer."""
    insert = bare_insert.INSERT_INTO.format(table=TABLE)
    router = APIRouter()

    @router.post("/v1/tickets", status_code=201)
    async def create_ticket(
        body: bare_insert.TicketCreate, session: SessionDep, actor: ActorDep
    ) -> JSONResponse:
        conn = await driver(session)
        row = await conn.fetchrow(insert, *bare_insert.insert_args(body, actor.sub))
        await outbox.add(
            session,
            events.TicketCreated(
                subject=row["id"],
                data=events.TicketCreatedData(
                    ticket_id=row["id"],
                    ticket_number=row["number"],
                    kind=row["kind"],
                    service_type=row["service_type"],
                    severity=row["severity"],
                    channel=row["channel"],
                    subject=row["subject"],
                    description=row["description"],
                    organization_id=row["organization_id"],
                    coverage=row["coverage"],
                    created_by=row["created_by"],
                    created_at=row["created_at"],
                ),
            ),
        )
        await session.commit()
        return JSONResponse(jsonable_encoder(dict(row)), status_code=201)

    return create_service_app(settings, title="floor: intake", description="", routers=[router])


def consumer_app(settings: Any) -> Any:
    """A consumer's place: one projection row per ticket.created (kb's handler)."""
    project = f"""
        INSERT INTO {TABLE} (id, organization_id, number, kind, subject, description, product,
                             category)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (id) DO NOTHING
    """

    @driver_only
    async def on_ticket_created(session: Any, event: events.TicketCreated) -> None:
        d = event.data
        conn = await driver(session)
        await conn.execute(
            project, event.subject, d.organization_id, d.ticket_number, d.kind, d.subject,
            d.description, d.product, d.category,
        )  # fmt: skip

    return create_service_app(
        settings,
        title=f"floor: {settings.service}",
        description="",
        handlers={events.TicketCreated: on_ticket_created},
    )


def serve(service: str, port: int | None) -> None:
    settings = settings_for(service)
    if service == API:
        import uvicorn

        uvicorn.run(
            api_app(settings), host="127.0.0.1", port=port, loop="uvloop", http="httptools",
            access_log=False, log_level="warning", timeout_keep_alive=75,
        )  # fmt: skip
        return

    async def run() -> None:  # as ``python -m dispatch.worker``: the lifespan, no HTTP
        app = consumer_app(settings)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        async with app.router.lifespan_context(app):
            await stop.wait()

    uvloop.run(run())


# ---- the benchmark ------------------------------------------------------------------------


def write_pid_file(path: Path, pid: int) -> None:
    """As stack.py writes them (pid and kernel start time), so `make stop` stops the process."""
    started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    path.write_text(f"{pid} {started}\n")


class Floor(ticket_flow.Bench):
    """ticket_flow's benchmark on the floor processes instead of ``make start``."""

    PROBE_TABLES = {"tickets": f"{API}.{TABLE}", "projection": TABLE}

    async def make(self, target: str) -> int:
        """``stop`` is ``make stop`` (the pid files are stack.py's); ``start`` starts the floor."""
        if target != "start":
            return await super().make(target)
        await self.create_tables()
        var = Path(self.env["AFTERCARE_VAR_DIR"])
        for sub in ("run", "log"):
            (var / sub).mkdir(parents=True, exist_ok=True)
        for info in (lookup(API), *ticket_flow.CONSUMERS):
            args = [sys.executable, str(_HERE), "serve", info.name]
            if info.name == API:
                args += ["--port", str(info.port + self.offset)]
            with (var / "log" / f"{info.name}.log").open("ab") as out:
                proc = await asyncio.create_subprocess_exec(
                    *args, cwd=REPO_ROOT, env=self.env, stdin=asyncio.subprocess.DEVNULL,
                    stdout=out, stderr=out, start_new_session=True,
                )  # fmt: skip
            pid_file = (var / "run" / f"{info.name}.pid", proc.pid)
            await asyncio.to_thread(write_pid_file, *pid_file)
        api = f"http://127.0.0.1:{lookup(API).port + self.offset}/readyz"
        await ticket_flow.wait_for(lambda: asyncio.to_thread(ticket_flow.http_ok, api), 60, API)
        ticket_flow.log("stack.py start --only gateway")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "deploy/local/stack.py", "start", "--only", "gateway",
            cwd=REPO_ROOT, env=self.env, stdout=sys.stderr,
        )  # fmt: skip
        return await proc.wait()

    async def create_tables(self) -> None:
        """intake.floor_ticket as bare_insert's table; each consumer's as kb.ticket. Owned by
        the schema's role, which the processes log in as."""
        statements = [
            f"CREATE TABLE {API}.{TABLE} (LIKE intake.ticket INCLUDING ALL)",
            f"CREATE SEQUENCE {API}.{TABLE}_number_seq START 100001",
            f"ALTER TABLE {API}.{TABLE} ALTER COLUMN number "
            f"SET DEFAULT nextval('{API}.{TABLE}_number_seq')",
        ]
        owners = {API: lookup(API).role}
        for c in ticket_flow.CONSUMERS:
            statements.append(f"CREATE TABLE {c.schema}.{TABLE} (LIKE kb.ticket INCLUDING ALL)")
            owners[c.schema] = c.role
        statements += [f"ALTER TABLE {s}.{TABLE} OWNER TO {r}" for s, r in owners.items()]
        statements.append(f"ALTER SEQUENCE {API}.{TABLE}_number_seq OWNER TO {owners[API]}")
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            async with conn.transaction():
                for statement in statements:
                    await conn.execute(statement)
        finally:
            await conn.close()

    async def main(self) -> dict[str, Any]:
        result = await super().main()
        result["benchmark"] = NAME
        result.setdefault("stack", {})["via"] = "bench/floor.py: the shared mechanisms alone"
        return result


def parse_args(argv: list[str] | None) -> Any:
    defaults = ["--port-offset", "2200", "--var-dir", str(REPO_ROOT / "var" / "bench-floor")]
    return ticket_flow.parse_args([*defaults, *(argv or [])])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the benchmark and returns its JSON-able result (bench/run.py prints and saves it)."""
    args = parse_args(argv)
    return ticket_flow.run_until_done(lambda: Floor(args).main())


if __name__ == "__main__":
    sys.path.insert(0, str(_HERE.parent))
    if sys.argv[1:2] == ["serve"]:
        import argparse

        p = argparse.ArgumentParser(prog="floor.py serve")
        p.add_argument("service")
        p.add_argument("--port", type=int)
        a = p.parse_args(sys.argv[2:])
        serve(a.service, a.port)
    else:
        with contextlib.suppress(KeyboardInterrupt):
            print(json.dumps(main(sys.argv[1:]), indent=2))
