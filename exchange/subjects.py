"""Subject keys: how the exchange stores and looks up citizens without their ID numbers.

A subject key is HMAC-SHA256 (hex) under the service's subject hash key (MIANZHENG_SUBJECT_HASH_KEY)
of the validated, normalised ID number (18 characters, upper-case X). The same person always
gets the same key, so consents and access-log entries can be found again, while a copy of the
database alone does not reveal whose records they are: without the key, a dictionary attack
over all plausible ID numbers is not possible. ID numbers are never stored or logged in clear.
"""

from __future__ import annotations

import hashlib
import hmac

from catalog.citizen_id import parse_id_number

SUBJECT_KEY_LENGTH = 64
"""Hex characters of a subject key (SHA-256)."""


def subject_key(hash_key: bytes, id_number: str) -> str:
    """The subject key of `id_number`; `catalog.errors.InvalidIdentifier` if it does not validate."""
    if not hash_key:
        raise ValueError("the subject hash key must not be empty")
    number = parse_id_number(id_number).number
    return hmac.new(hash_key, number.encode("ascii"), hashlib.sha256).hexdigest()
