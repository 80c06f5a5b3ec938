"""Intake's domain errors; ``shared.http`` turns them into problem responses."""

from shared.http import Conflict, NotFound, Problem


class TicketNotFound(NotFound):
    type = "ticket-not-found"
    title = "Ticket not found"


class OrganizationNotFound(NotFound):
    type = "organization-not-found"
    title = "Organisation not found"


class ContactNotFound(NotFound):
    type = "contact-not-found"
    title = "Contact not found"


class ContractNotFound(NotFound):
    type = "contract-not-found"
    title = "Contract not found"


class AssetNotFound(NotFound):
    type = "asset-not-found"
    title = "Asset not found"


class AttachmentNotFound(NotFound):
    type = "attachment-not-found"
    title = "Attachment not found"


class InvalidReference(Problem):
    status = 422
    type = "invalid-reference"
    title = "A referenced record does not exist or belongs to another organisation"


class DuplicateValue(Conflict):
    type = "duplicate"
    title = "Already exists"


class IllegalTransition(Conflict):
    type = "illegal-transition"
    title = "Transition not allowed"


class InvalidPhoneNumber(Problem):
    status = 422
    type = "invalid-phone"
    title = "Invalid phone number"


class AttachmentRefused(Problem):
    status = 415
    type = "attachment-refused"
    title = "Attachment refused"


class AttachmentTooLarge(Problem):
    status = 413
    type = "attachment-too-large"
    title = "Attachment too large"


class TooManyAttachments(Conflict):
    type = "too-many-attachments"
    title = "The ticket has reached its attachment limit"
