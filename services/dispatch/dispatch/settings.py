from typing import ClassVar

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service: ClassVar[str] = "dispatch"
    db_schema: ClassVar[str] = "dispatch"
