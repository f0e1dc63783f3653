"""Documents uploaded inside JSON: a PDF as base64, decoded or refused with a problem naming the field."""

from __future__ import annotations

import base64

from api.problems import Problem


def pdf_from_base64(text: str, pointer: str = "#/pdf_base64") -> bytes:
    """The bytes of `text`; 400 invalid-request naming `pointer` when it is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or a character outside ASCII
        raise Problem("invalid-request", "pdf_base64 is not base64",
                      errors=[{"pointer": pointer, "detail": "not base64"}]) from None
