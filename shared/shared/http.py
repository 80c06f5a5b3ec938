"""HTTP conventions (DESIGN §6): RFC 9457 problems, request ids, cursors, ETags, idempotency."""

from __future__ import annotations

import base64
import hashlib
import logging
import sys
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import logging as aclog
from shared.db import driver, dumps, is_transient, loads

log = logging.getLogger("aftercare.http")

PROBLEM_BASE = "https://aftercare.dev/problems/"
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """A domain error with a stable type; one handler turns it into an RFC 9457 response.

    Subclasses set ``status``, ``type`` (a slug under PROBLEM_BASE) and ``title``; instances
    carry the ``detail`` and any extension members (``allowed`` next states, ``errors`` ...).
    """

    status: ClassVar[int] = 400
    type: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.extensions = extensions

    def headers(self) -> dict[str, str]:
        return {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        return problem_body(
            self.status, self.type, self.title, self.detail, instance, **self.extensions
        )


class NotFound(Problem):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(Problem):
    status = 409
    type = "conflict"
    title = "Conflict"


class PreconditionFailed(Problem):
    status = 412
    type = "stale-version"
    title = "The resource changed since you read it"


class PreconditionRequired(Problem):
    status = 428
    type = "precondition-required"
    title = "If-Match header required"


class InvalidCursor(Problem):
    status = 400
    type = "invalid-cursor"
    title = "Invalid pagination cursor"


class IdempotencyKeyReused(Problem):
    status = 422
    type = "idempotency-key-reused"
    title = "Idempotency-Key was used with a different request"


def problem_body(
    status: int,
    type_: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": PROBLEM_BASE + type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if (rid := aclog.request_id.get()) is not None:
        body["request_id"] = rid
    body.update(extensions)
    return body


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


_STATUS_TYPES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid request"),
    429: ("rate-limited", "Too many requests"),
}


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves as problem JSON; unexpected ones as a 500 without a stack trace."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.body(request.url.path), exc.headers())

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5])
        body = problem_body(
            422, "validation-error", "Invalid request", detail, request.url.path, errors=errors
        )
        return problem_response(body)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_, title = _STATUS_TYPES.get(exc.status_code, ("http-error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        body = problem_body(exc.status_code, type_, title, detail, request.url.path)
        return problem_response(body, dict(exc.headers or {}))


def _internal_error(path: str) -> dict[str, Any]:
    return problem_body(
        500,
        "internal-error",
        "Internal error",
        "an unexpected error; quote the request id when reporting it",
        path,
    )


class RequestIdMiddleware:
    """Takes the gateway's ``X-Request-ID`` (or makes one), exposes it to logs, echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        traceparent = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")[:128]
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")[:128]
        rid = incoming or uuid.uuid4().hex
        token = aclog.request_id.set(rid)
        tp_token = aclog.traceparent.set(traceparent)

        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # Answered here rather than by Starlette's outermost error middleware, which runs
            # after this context is gone: the problem still carries the request id.
            if started:
                log.exception("error after the response began on %s", scope["path"])
                raise
            exc = sys.exc_info()[1]
            if is_transient(exc):  # type: ignore[arg-type]
                log.warning(
                    "database unavailable on %s %s: %s", scope["method"], scope["path"], exc
                )
                response = problem_response(
                    problem_body(
                        503,
                        "unavailable",
                        "Service temporarily unavailable",
                        "the database is unavailable; try again shortly",
                        scope["path"],
                    ),
                    {"Retry-After": "2"},
                )
            else:
                log.exception("unhandled error on %s %s", scope["method"], scope["path"])
                response = problem_response(_internal_error(scope["path"]))
            await response(scope, receive, send_wrapper)
        finally:
            aclog.request_id.reset(token)
            aclog.traceparent.reset(tp_token)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a cursor-paginated list."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor holding the sort key of the last item on the page."""
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise InvalidCursor("the cursor is not one this API returned")
    if not isinstance(values, list):
        raise InvalidCursor("the cursor is not one this API returned")
    return values


async def keyset_page(
    session: AsyncSession,
    stmt: Any,
    column: Any,
    *,
    limit: int,
    cursor: str | None,
    descending: bool = False,
    parse: Callable[[Any], Any] = lambda v: uuid.UUID(str(v)),
) -> tuple[list[Any], str | None]:
    """One page of ``stmt``'s rows ordered by the unique ``column``, after ``cursor``.

    Keyset pagination: a deep page costs what the first does. The cursor holds the last row's
    key; ``parse`` turns it back into a column value, and any cursor it cannot parse is a 400.
    """
    if cursor:
        values = decode_cursor(cursor)
        try:
            if len(values) != 1:
                raise ValueError("one key expected")
            after = parse(values[0])
        except (ValueError, TypeError):
            raise InvalidCursor("the cursor is not one this API returned")
        stmt = stmt.where(column < after if descending else column > after)
    order = column.desc() if descending else column
    rows = list((await session.execute(stmt.order_by(order).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([str(getattr(rows[-1], column.key))]) if more and rows else None
    return rows, next_cursor


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(header: str | None, version: int) -> None:
    """Optimistic concurrency: the If-Match ETag must be the current version (412 if stale)."""
    if header is None:
        raise PreconditionRequired("send If-Match with the ETag you read")
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    if "*" not in tags and etag(version) not in tags:
        raise PreconditionFailed(
            f"If-Match {header} does not match the current version", current_etag=etag(version)
        )


def idempotency_table(metadata: MetaData, schema: str) -> Table:
    """Stored first answers of creating requests, keyed by the caller and its Idempotency-Key."""
    return Table(
        "idempotency_key",
        metadata,
        Column("actor", Text, primary_key=True),
        Column("key", Text, primary_key=True),
        Column("request_hash", Text, nullable=False),
        Column("status_code", Integer),
        Column("response", JSONB),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        schema=schema,
    )


class StoredResponse(BaseModel):
    status_code: int
    body: Any


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


_IDEMPOTENCY_RESERVE = """
INSERT INTO idempotency_key (actor, key, request_hash) VALUES ($1, $2, $3)
ON CONFLICT (actor, key) DO NOTHING
RETURNING key
"""
_IDEMPOTENCY_STORED = """
SELECT request_hash, status_code, response::text AS response FROM idempotency_key
WHERE actor = $1 AND key = $2
"""
_IDEMPOTENCY_FINISH = """
UPDATE idempotency_key SET status_code = $3, response = $4::text::jsonb
WHERE actor = $1 AND key = $2
"""


async def idempotency_begin(
    session: AsyncSession, *, actor: str, key: str, fingerprint: str
) -> StoredResponse | None:
    """Reserves ``key`` in the session's transaction, or returns the answer stored for it.

    A concurrent request with the same key waits on the reservation's row lock until the first
    commits, then replays its answer; if the first rolled back, the second proceeds.
    """
    if not key or len(key) > 255:
        raise Problem("Idempotency-Key must be 1 to 255 characters")
    conn = await driver(session)
    if await conn.fetchval(_IDEMPOTENCY_RESERVE, actor, key, fingerprint) is not None:
        return None
    row = await conn.fetchrow(_IDEMPOTENCY_STORED, actor, key)
    if row["request_hash"] != fingerprint:
        raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was first used for another request")
    if row["status_code"] is None:
        raise Conflict("a request with this Idempotency-Key is still in progress")
    return StoredResponse(status_code=row["status_code"], body=loads(row["response"]))


async def idempotency_finish(
    session: AsyncSession, *, actor: str, key: str, status_code: int, body: Any
) -> None:
    """Stores the answer for a reserved key, in the same transaction as the effect."""
    conn = await driver(session)
    await conn.execute(_IDEMPOTENCY_FINISH, actor, key, status_code, dumps(body))
