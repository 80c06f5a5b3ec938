"""Prometheus collectors every service exposes (DESIGN §8), and the HTTP middleware.

Labels come only from closed sets: route template, method, status, event type, outcome.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

HTTP_REQUESTS = Counter(
    "aftercare_http_requests_total",
    "HTTP requests by route template, method and status code",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "aftercare_http_request_seconds",
    "HTTP request latency by route template and method",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
EVENTS_PUBLISHED = Counter(
    "aftercare_events_published_total",
    "Events the outbox relay published with a broker confirm",
    ["type"],
)
PUBLISH_FAILURES = Counter(
    "aftercare_event_publish_failures_total",
    "Outbox rows the broker did not confirm (they are published again later)",
    ["type"],
)
EVENTS_CONSUMED = Counter(
    "aftercare_events_consumed_total",
    "Events taken off the service queue, by outcome: ok, duplicate, retry, parked",
    ["type", "outcome"],
)
EVENT_HANDLE_SECONDS = Histogram(
    "aftercare_event_handle_seconds",
    "Time to handle one event, inbox claim and commit included",
    ["type"],
    buckets=LATENCY_BUCKETS,
)
OUTBOX_BACKLOG = Gauge("aftercare_outbox_backlog", "Outbox rows not yet published")
OUTBOX_OLDEST_AGE = Gauge(
    "aftercare_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row"
)
EVENTS_REPLAYED = Counter(
    "aftercare_events_replayed_total", "Parked events sent back to the service queue"
)

UNMATCHED_ROUTE = "<unmatched>"


class MetricsMiddleware:
    """Counts and times every HTTP request by its route *template* (never the raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            template = route_template(scope)
            method = scope["method"]
            HTTP_REQUESTS.labels(route=template, method=method, status=str(status)).inc()
            HTTP_LATENCY.labels(route=template, method=method).observe(time.perf_counter() - start)


def route_template(scope: Scope) -> str:
    """The matched route's full path template (``/v1/tickets/{ticket_id}``).

    FastAPI resolves included routers lazily and leaves the router-relative route in
    ``scope["route"]``; the full template is on its effective route context when present.
    """
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    if (path := getattr(context, "path", None)) is not None:
        return path
    return getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
