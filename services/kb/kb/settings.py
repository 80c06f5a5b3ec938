from typing import ClassVar

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service: ClassVar[str] = "kb"
    db_schema: ClassVar[str] = "kb"
