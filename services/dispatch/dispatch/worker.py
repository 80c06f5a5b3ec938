"""``python -m dispatch.worker``: dispatch's workers (event consumer, outbox relay, queue
re-evaluation) in a process without the HTTP server, until SIGTERM or SIGINT.

The same as ``AFTERCARE_ROLE=worker`` under uvicorn minus the HTTP port; tests and the
benchmark start several of these to run competing workers on one queue.
"""

from __future__ import annotations

import asyncio
import signal

from dispatch.main import create_app
from dispatch.settings import Settings


async def run() -> None:
    app = create_app(Settings(role="worker"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with app.router.lifespan_context(app):
        await app.state.broker.wait_ready()
        await asyncio.wait_for(app.state.consumer.consuming.wait(), 60)
        print("dispatch worker ready", flush=True)
        await stop.wait()


def main() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(run())
    else:
        uvloop.run(run())


if __name__ == "__main__":
    main()
