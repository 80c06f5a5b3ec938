from typing import ClassVar

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service: ClassVar[str] = "dispatch"
    db_schema: ClassVar[str] = "dispatch"

    # The queue re-evaluation (requeue.py): a pass at least this often, and on every wake-up
    # (a shift or on-call slot starting, capacity freed, the roster changed).
    requeue_seconds: float = 30.0
    # Most queued tickets one pass re-evaluates, most severe and longest waiting first.
    requeue_batch: int = 500
    # Messages in flight per worker (the shared default is 256). Tickets of one branch compete
    # for the same few engineers' load rows, so more in flight mostly queues them behind each
    # other's locks: bench/dispatch.py routed as fast with 16 as with 64, with a quarter of
    # the p99, and slower with 256.
    consumer_prefetch: int = 16
    # A new ticket's first-response clock runs while it waits for its decision, so dispatch
    # waits for more deliveries only 10 ms (the shared default is 50 ms). A batch's decisions
    # are written together (assignments.assign_planned), so a smaller batch costs little
    # more. bench/dispatch.py at 500 tickets/s with two workers, p99 decision latency to the
    # commit: with 10 ms, 37-46 ms in 20 of 23 runs (median about 42; the other three 53-104);
    # with 50 ms, 65-66 ms. The machine's CPU per decision: 3.0-3.4 ms against 2.2-2.5 ms.
    consumer_linger_seconds: float = 0.01
    # Reports count months in this zone.
    report_time_zone: str = "Asia/Shanghai"
