"""Selective disclosure in the SD-JWT format (IETF RFC 9901, Selective Disclosure for JWTs),
the part of it that licenses need.

An SD-JWT is `<issuer-signed JWT>~<disclosure>~...~<disclosure>~[<binding JWT>]`. A disclosure
is base64url(JSON `[salt, name, value]`) with a fresh 128-bit salt; the signed JWT carries, in
place of each selectively disclosable claim, the base64url SHA-256 digest of its disclosure in
the `_sd` array (sorted, so the order says nothing) and `"_sd_alg": "sha-256"`. Whoever holds
the disclosures can reveal any subset of the claims; the digests of the others reveal nothing
(the salt makes them unguessable), and no disclosure can be forged without breaking the
issuer's signature over `_sd`.

The last part (after the final `~`) is empty in what the issuer hands out and, in a
presentation, holds a binding JWT over `sd_hash` = base64url(SHA-256(everything up to and
including the final `~`)), so disclosures cannot be added to or removed from a presentation.
What signs the binding JWT and what it carries is the caller's business (`presentations.py`).

Only flat claims are made selectively disclosable (no nested `_sd`, no array elements):
license data items are top-level values of an `items` object.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exchange.errors import ExchangeError
from core.base64url import b64url_decode, b64url_encode

SD_ALG = "sha-256"
SEPARATOR = "~"
SALT_BYTES = 16


class SdJwtError(ExchangeError):
    """An SD-JWT or a disclosure that cannot be used; `code` is a stable verdict code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class SdJwt:
    """The parts of an SD-JWT, as text."""

    issuer_jwt: str
    disclosures: tuple[str, ...]
    binding_jwt: str | None = None

    def presented_part(self) -> str:
        """Everything up to and including the last `~`: what a binding JWT's `sd_hash` covers."""
        return SEPARATOR.join((self.issuer_jwt, *self.disclosures)) + SEPARATOR

    def serialise(self) -> str:
        return self.presented_part() + (self.binding_jwt or "")

    def with_only(self, names: Collection[str]) -> SdJwt:
        """The same SD-JWT with only the disclosures of claims called `names` (no binding)."""
        kept = tuple(d for d in self.disclosures if decode_disclosure(d)[1] in names)
        return SdJwt(self.issuer_jwt, kept)


def make_disclosure(name: str, value: Any, salt: str | None = None) -> str:
    salt = salt or b64url_encode(secrets.token_bytes(SALT_BYTES))
    return b64url_encode(json.dumps([salt, name, value], ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def disclosure_digest(disclosure: str) -> str:
    return b64url_encode(hashlib.sha256(disclosure.encode("ascii")).digest())


def sd_hash(presented_part: str) -> str:
    return b64url_encode(hashlib.sha256(presented_part.encode("ascii")).digest())


def decode_disclosure(disclosure: str) -> tuple[str, str, Any]:
    """(salt, name, value) of a disclosure; `SdJwtError("disclosure_malformed")` otherwise."""
    try:
        decoded = json.loads(b64url_decode(disclosure))
    except (ValueError, UnicodeDecodeError):
        raise SdJwtError("disclosure_malformed", "a disclosure is not base64url JSON") from None
    if not (isinstance(decoded, list) and len(decoded) == 3 and isinstance(decoded[0], str)
            and isinstance(decoded[1], str)):
        raise SdJwtError("disclosure_malformed", "a disclosure is not [salt, name, value]")
    return decoded[0], decoded[1], decoded[2]


def disclosures_for(values: Mapping[str, Any]) -> tuple[tuple[str, ...], list[str]]:
    """A fresh disclosure per claim, in the order given, and the sorted `_sd` digests."""
    disclosures = tuple(make_disclosure(name, value) for name, value in values.items())
    return disclosures, sorted(disclosure_digest(d) for d in disclosures)


def parse_sd_jwt(text: str) -> SdJwt:
    """Split an SD-JWT; `SdJwtError("not_an_sd_jwt")` when it has no `~`."""
    parts = text.strip().split(SEPARATOR)
    if len(parts) < 2 or parts[0].count(".") != 2:
        raise SdJwtError("not_an_sd_jwt", "not an SD-JWT (<JWT>~<disclosures>~[<binding JWT>])")
    issuer_jwt, *disclosures, last = parts
    if any(not d for d in disclosures):
        raise SdJwtError("disclosure_malformed", "an empty disclosure")
    return SdJwt(issuer_jwt, tuple(disclosures), last or None)


def disclosed_values(sd_digests: Any, disclosures: Sequence[str]) -> dict[str, Any]:
    """The claims the disclosures reveal, each checked against the signed `_sd` digests.

    `SdJwtError` codes: `disclosure_not_signed` (a digest not in `_sd`: forged or from another
    credential), `disclosure_repeated` (the same disclosure or claim twice), `disclosure_malformed`.
    """
    if not isinstance(sd_digests, list) or not all(isinstance(d, str) for d in sd_digests):
        raise SdJwtError("disclosure_malformed", "the credential has no _sd digest list")
    signed = set(sd_digests)
    values: dict[str, Any] = {}
    seen: set[str] = set()
    for disclosure in disclosures:
        digest = disclosure_digest(disclosure)
        if digest in seen:
            raise SdJwtError("disclosure_repeated", "the same disclosure is given twice")
        seen.add(digest)
        if digest not in signed:
            raise SdJwtError("disclosure_not_signed", "a disclosure is not among the credential's signed digests")
        _, name, value = decode_disclosure(disclosure)
        if name in values:
            raise SdJwtError("disclosure_repeated", f"item {name} is disclosed twice")
        values[name] = value
    return values
