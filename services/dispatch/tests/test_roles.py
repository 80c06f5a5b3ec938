"""AFTERCARE_ROLE: the worker role runs the queue re-evaluation next to relay and consumer."""

import asyncio
import gc

from dispatch.main import create_app
from dispatch.settings import Settings
from shared.web import GC_THRESHOLDS


async def test_worker_role_runs_the_requeue_loop_and_api_role_does_not(test_run):
    for role, expected in (("worker", True), ("api", False)):
        app = create_app(Settings(role=role))
        before = asyncio.all_tasks()

        async with app.router.lifespan_context(app):
            started = {t.get_name() for t in asyncio.all_tasks() - before}

        assert ("requeue_worker" in started) is expected


async def test_what_exists_at_startup_is_kept_out_of_the_cyclic_collector(test_run):
    """A full collection walks every tracked object: the ~150,000 of the app and its modules
    stalled every worker process together (up to 300 ms measured) unless frozen at startup;
    and young collections come seldom enough that a request's objects are mostly freed first."""
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)  # Python's defaults
    app = create_app(Settings(role="worker"))
    assert any(o is app.router for o in gc.get_objects())  # what a collection walks
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 50_000
        assert not any(o is app.router for o in gc.get_objects())
        assert gc.get_threshold() == GC_THRESHOLDS  # young collections only every 10,000
