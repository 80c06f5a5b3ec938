from pathlib import Path
from typing import ClassVar

from shared.services import REPO_ROOT
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service: ClassVar[str] = "intake"
    db_schema: ClassVar[str] = "intake"

    # A report from the same contact about the same asset within this window joins the open
    # ticket instead of opening another.
    duplicate_window_hours: float = 72.0
    attachments_dir: Path = REPO_ROOT / "var" / "attachments"
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachments_per_ticket: int = 100
