"""What a license `reference` (the issuing department's own record id) may be: it is kept in
clear and makes issuing idempotent, so it holds no ID number however written, and nothing a
retry could send otherwise without meaning another record: no space at either end, no control,
format or line-separator character (a trailing newline, a zero-width space)."""

from __future__ import annotations

import unicodedata

from catalog.citizen_id import mask_free_text

MAX_REFERENCE_CHARS = 128
_UNSEEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories of characters that print nothing a clerk could read back or type again."""


def reference_problem(reference: str) -> str | None:
    """Why `reference` cannot be a license reference, or None."""
    if not 1 <= len(reference) <= MAX_REFERENCE_CHARS:
        return f"must be 1-{MAX_REFERENCE_CHARS} characters"
    if reference != reference.strip() or any(unicodedata.category(char) in _UNSEEN for char in reference):
        return "must not start or end with a space nor hold control or invisible characters"
    if mask_free_text(reference) != reference:
        return "must not contain an ID number: it is stored in clear"
    return None
