from typing import ClassVar

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service: ClassVar[str] = "sla-timer"
    db_schema: ClassVar[str] = "sla"
