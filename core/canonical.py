"""Canonical JSON: the one byte form of a JSON value that is hashed or signed anywhere in
mianzheng (catalog content hashes, access-log chain entries, receipts).

Keys sorted, no insignificant whitespace, UTF-8 without escaping non-ASCII characters.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
"""Built once: `json.dumps` with options builds a new encoder per call, which costs more than a
short document's encoding (the access-log check encodes one per entry)."""


def canonical_json(value: Any) -> bytes:
    return _ENCODE(value).encode("utf-8")


def canonical_sha256(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of `value`."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
