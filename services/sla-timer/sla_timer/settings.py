from typing import ClassVar

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service: ClassVar[str] = "sla-timer"
    db_schema: ClassVar[str] = "sla"

    # What a ticket is held to when its contract names no policy or calendar (or an unknown one).
    default_policy: str = "fault-levels"
    default_calendar_24x7: str = "24x7"
    default_calendar_business: str = "cn-office-hours"

    # The timer scanner: rows locked per transaction, the shortest and longest sleep between
    # scans (it sleeps until the next due point within those bounds, or until woken).
    scan_batch_size: int = 500
    scan_min_sleep_seconds: float = 0.02
    scan_max_sleep_seconds: float = 1.0
    # Schedules, rebuild requests and the active-timer gauge.
    housekeeping_seconds: float = 1.0
    gauge_seconds: float = 15.0
