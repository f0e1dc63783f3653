"""base64url without padding (RFC 7515 §2), strict on decoding."""

from __future__ import annotations

import base64
import binascii


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; raise ValueError on padding, other alphabets or a bad length.

    One strict pass of the C decoder (`validate=True`: any character outside the alphabet is an
    error), after ruling out what it would take from the standard alphabet or as padding."""
    if len(text) % 4 == 1 or not text.isascii() or "+" in text or "/" in text or "=" in text:
        raise ValueError("not unpadded base64url")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error as error:
        raise ValueError("not unpadded base64url") from error
