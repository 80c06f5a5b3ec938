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
    # Reports count months in this zone.
    report_time_zone: str = "Asia/Shanghai"
