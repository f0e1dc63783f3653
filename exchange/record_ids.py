"""Record identifiers the exchange hands out: random UUIDs in their canonical text form."""

from __future__ import annotations

import uuid


def new_record_id() -> str:
    return str(uuid.uuid4())


def is_record_id(text: str) -> bool:
    """Whether `text` is a UUID written canonically (so it can be looked up as a key)."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
