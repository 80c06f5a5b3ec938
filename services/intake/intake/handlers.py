"""Events intake consumes. Dispatch, SLA and survey events join here as those services land."""

from shared.bus import Handler

HANDLERS: dict[type, Handler] = {}
