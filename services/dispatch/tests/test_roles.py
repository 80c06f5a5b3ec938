"""AFTERCARE_ROLE: the worker role runs the queue re-evaluation next to relay and consumer."""

import asyncio

from dispatch.main import create_app
from dispatch.settings import Settings


async def test_worker_role_runs_the_requeue_loop_and_api_role_does_not(test_run):
    for role, expected in (("worker", True), ("api", False)):
        app = create_app(Settings(role=role))
        before = asyncio.all_tasks()

        async with app.router.lifespan_context(app):
            started = {t.get_name() for t in asyncio.all_tasks() - before}

        assert ("requeue_worker" in started) is expected
