"""Identifiers: UUIDv7 (RFC 9562), time-ordered so B-tree inserts stay at the right edge."""

import uuid

import uuid_utils.compat


def new_id() -> uuid.UUID:
    """A new UUIDv7 as a standard-library :class:`uuid.UUID`."""
    return uuid_utils.compat.uuid7()
