import uuid
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import SecretStr

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

    # Inbound channels (api/inbound.py). An unknown sender becomes a contact of this
    # organisation (created on first use) or is refused.
    unknown_senders: Literal["contact", "refuse"] = "contact"
    unknown_senders_organization_id: uuid.UUID = uuid.UUID("0192f000-0000-7000-8000-0000000000ff")
    unknown_senders_organization_name: str = "Unknown senders"
    inbound_mail_max_bytes: int = 25 * 1024 * 1024
    inbound_event_max_bytes: int = 256 * 1024
    mail_max_attachments: int = 50
    mailgun_signing_key: SecretStr | None = None
    # Message-IDs the system writes look like <ticket-<uuid>.<anything>@<domain>>, so a reply
    # to any of them threads to its ticket without a lookup.
    message_id_domain: str = "aftercare.local"
    phone_region: str = "CN"
