from typing import ClassVar

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service: ClassVar[str] = "notify"
    db_schema: ClassVar[str] = "notify"
