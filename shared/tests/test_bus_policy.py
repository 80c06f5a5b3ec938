import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from shared.bus import next_step, parked_queue, retry_queue
from shared.db import is_transient

DELAYS = (1.0, 10.0, 60.0, 600.0)


def test_backoff_walks_one_second_ten_seconds_one_minute_ten_minutes_then_parks():
    waits = []
    attempt = 0
    while (step := next_step(attempt, DELAYS)) is not None:
        waits.append(DELAYS[step])
        attempt += 1

    assert waits == [1.0, 10.0, 60.0, 600.0]
    assert attempt == 4


def test_a_negative_or_huge_attempt_parks():
    assert next_step(-1, DELAYS) is None
    assert next_step(99, DELAYS) is None


def test_queue_names_hang_off_the_service_queue():
    assert retry_queue("dispatch", 2) == "dispatch.retry.2"
    assert parked_queue("t_1.dispatch") == "t_1.dispatch.parked"


def _wrapped(cause: BaseException) -> Exception:
    """What SQLAlchemy's asyncpg adapter raises: its own error caused by asyncpg's."""
    adapted = Exception("adapted driver error")
    adapted.__cause__ = cause
    return adapted


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("gone"),
        asyncpg.exceptions.SerializationError("retry"),
        sa_exc.OperationalError("select 1", {}, OSError("reset")),
        sa_exc.InterfaceError("select 1", {}, Exception("closed"), connection_invalidated=True),
        sa_exc.DBAPIError("update", {}, _wrapped(asyncpg.exceptions.DeadlockDetectedError("x"))),
        sa_exc.DBAPIError("update", {}, _wrapped(asyncpg.exceptions.SerializationError("x"))),
        asyncpg.exceptions.TooManyConnectionsError("remaining connection slots are reserved"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.CrashShutdownError("terminating connection due to crash"),
    ],
)
def test_infrastructure_failures_are_transient(error):
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("bug"),
        KeyError("x"),
        ValueError("bad data"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    ],
)
def test_handler_bugs_are_not_transient(error):
    assert not is_transient(error)
