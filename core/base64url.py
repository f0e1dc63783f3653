"""base64url without padding (RFC 7515 §2), strict on decoding."""

from __future__ import annotations

import base64
import binascii
import re

_ALPHABET = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; raise ValueError on padding, other alphabets or a bad length."""
    if not _ALPHABET.match(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError("not unpadded base64url") from error
