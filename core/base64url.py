"""base64url without padding (RFC 7515 §2), strict on decoding."""

from __future__ import annotations

import base64
import binascii

_FROM_URLSAFE = bytes.maketrans(b"-_+/=", b"+/!!!")
"""base64url's two letters to the standard alphabet's, and the standard alphabet's own two and its
padding to a character outside both, so the strict decoder refuses them."""
_PADDING = (b"", b"", b"==", b"=")
"""The padding of a text by its length modulo 4 (1 is never a length of base64)."""
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_UNUSED_BITS = (0, 0, 0b1111, 0b11)
"""The bits of the last character that encode nothing, by the text's length modulo 4: they must
be zero, or the same bytes would have several spellings."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; raise ValueError on padding, other alphabets, a bad length or a
    last character with unused bits set (each byte string has one encoding).

    One strict pass of the C decoder (`strict_mode`: any character outside the alphabet is an
    error), after mapping what it would take from the standard alphabet or as padding outside it."""
    if len(text) % 4 == 1 or (text and _ALPHABET.find(text[-1]) & _UNUSED_BITS[len(text) % 4]):
        raise ValueError("not unpadded base64url")
    try:
        return binascii.a2b_base64(text.encode("ascii").translate(_FROM_URLSAFE) + _PADDING[len(text) % 4],
                                   strict_mode=True)
    except (UnicodeEncodeError, binascii.Error) as error:
        raise ValueError("not unpadded base64url") from error
