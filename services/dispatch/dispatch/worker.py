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
        # A stop signal counts while the worker is still connecting, too.
        ready = asyncio.ensure_future(_ready(app))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if ready.done():
            ready.result()
            print("dispatch worker ready", flush=True)
            await stopped
        ready.cancel()
        stopped.cancel()


async def _ready(app) -> None:
    await app.state.broker.wait_ready()
    await asyncio.wait_for(app.state.consumer.consuming.wait(), 60)


def main() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(run())
    else:
        uvloop.run(run())


if __name__ == "__main__":
    main()
