"""Subject keys: how the exchange stores and looks up citizens without their ID numbers.

A subject key is HMAC-SHA256 (hex) under the service's subject hash key (MIANZHENG_SUBJECT_HASH_KEY)
of the validated, normalised ID number (18 characters, upper-case X). The same person always
gets the same key, so consents and access-log entries can be found again, while a copy of the
database alone does not reveal whose records they are: without the key, a dictionary attack
over all plausible ID numbers is not possible. ID numbers are never stored or logged in clear.

An organisation's key is the same HMAC of `uscc:<code>` (its code is public; the key only lets
the access log and the license library find it again as they find a person).
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


def organisation_key(hash_key: bytes, uscc: str) -> str:
    """The subject key of an organisation by its (validated, upper-case) unified social credit code."""
    if not hash_key:
        raise ValueError("the subject hash key must not be empty")
    return hmac.new(hash_key, f"uscc:{uscc}".encode("ascii"), hashlib.sha256).hexdigest()
