"""Events emitted by kb: published articles and suggestions for new tickets (DESIGN §4)."""

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import Event, EventData
from shared.events.types import TICKET_ID, TICKET_NUMBER, CauseCategory, TicketNumber, UtcDatetime


class KbArticlePublishedData(EventData):
    article_id: uuid.UUID = Field(description="The article; equals the envelope `subject`.")
    revision: int = Field(ge=1, description="The published revision; a later one supersedes it.")
    title: str = Field(description="The article's title.")
    summary: str | None = Field(None, description="A short abstract, for notices and lists.")
    language: str = Field(description="Language as a BCP 47 tag (`zh-CN`, `en`).")
    visibility: Literal["internal", "customer"] = Field(
        description="Engineers only, or also on the customer-facing knowledge page."
    )
    category: str | None = Field(None, description="The kb category key.")
    cause_category: CauseCategory | None = Field(
        None, description="The category of cause it addresses."
    )
    products: list[str] = Field(default_factory=list, description="Products it applies to.")
    source_ticket_ids: list[uuid.UUID] = Field(
        default_factory=list, description="Tickets whose solution it records."
    )
    published_by: str | None = Field(None, description="User who published it.")
    published_at: UtcDatetime = Field(description="When it became visible.")


class KbArticlePublished(Event):
    """An article, or a new revision of one, became visible."""

    emitted_by: ClassVar[str] = "kb"
    subject_field: ClassVar[str] = "article_id"
    type: Literal["kb.article_published"] = "kb.article_published"
    source: str = "kb"
    data: KbArticlePublishedData


class SuggestedArticle(EventData):
    article_id: uuid.UUID = Field(description="The article.")
    title: str = Field(description="The article's title.")
    score: float = Field(ge=0, le=1, description="Relevance, higher is better.")
    visibility: Literal["internal", "customer"] = Field(
        description="Whether it may be shown to the customer."
    )


class KbSuggestedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    articles: list[SuggestedArticle] = Field(
        description="The best matches, best first; empty when nothing matched well enough."
    )


class KbSuggested(Event):
    """Articles that likely answer a new ticket."""

    emitted_by: ClassVar[str] = "kb"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["kb.suggested"] = "kb.suggested"
    source: str = "kb"
    data: KbSuggestedData
