"""The certificate status list, in the style of the W3C Bitstring Status List v1.0.

One bit per certificate (`statusPurpose` "revocation"): bit `index` set means revoked. Index 0
is the most significant bit of the first byte. The list has at least 131,072 entries (16 KiB),
the spec's minimum, so that fetching it says nothing about which certificate a verifier checks
(herd privacy); indexes follow a keyed permutation of the issuance number (`entry_index`), not
issuance order, for the same reason.
`encodedList` is the multibase form: "u" + base64url (no padding) of the GZIP-compressed
bitstring (mtime 0, so the same list always encodes to the same text).

Revocation reasons. The bitstring carries only the bit. The reason codes are published in the
same signed credential, keyed by index (`credentialSubject.revocationReasons`,
{"<index>": "<reason>"}), only for revoked entries: the verifier gets the reason from the one
document it already fetched, offline, without asking the server about a particular certificate
(a per-identifier lookup would tell the server who is being checked). It reveals no more than
the bitstring does: which indexes are revoked.

The credential is a JWS (`seals.jws.sign_jws`, typ `mianzheng-statuslist+jwt`) whose payload is
the VC (Data Model 2.0) plus `iat`/`exp`; it is signed by the exchange's seal, and a verifier
treats a list past `exp` as stale (its status cannot be relied on).

Earlier addresses. An installation that moved to another public address signs its lists under
the new one and names the addresses the same list was published under before in `alsoKnownAs`
(signed with the rest), so certificates issued before the move, which name the old address,
are still answered by the list (`StatusList.names`).

Several lists. A city issues more certificates than one list holds, so each certificate names its
list by URL (`status.list_url`) next to its index, and a verifier holding several lists picks the one
that certificate names (`StatusListSource`, `held_status_lists`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from exchange.errors import ExchangeError
from exchange.certificates.model import format_time
from core.base64url import b64url_decode, b64url_encode
from seals.ca import USCC_PREFIX
from seals.jws import sign_jws
from seals.keys import Signer
from seals.trust import TrustStore
from seals.verdict import Status
from seals.verify_jws import verify_jws

MIN_ENTRIES = 131_072
STATUS_LIST_TYP = "mianzheng-statuslist+jwt"
DEFAULT_VALIDITY = timedelta(days=1)
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
_FEISTEL_ROUNDS = 4

REVOCATION_REASONS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "unspecified": ("未说明原因", "unspecified"),
        "issued_in_error": ("出具有误", "issued in error"),
        "data_changed": ("证明所依据的信息已变更", "the underlying data changed"),
        "superseded": ("已换发新版本", "superseded by a new version"),
        "holder_request": ("持有人申请撤销", "withdrawn at the holder's request"),
        "obtained_by_fraud": ("以欺骗等不正当手段取得", "obtained by fraud"),
    }
)
"""Reason code -> (Chinese, English) label."""


StatusListSource = Callable[[str], str | None]
"""The signed list (compact JWS) a verifier holds for the list URL a certificate names, or None."""


class StatusListError(ExchangeError):
    """A status list that cannot be used; `code` is a stable verdict code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class StatusList:
    url: str
    bits: bytes
    reasons: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    aliases: tuple[str, ...] = ()
    """Earlier addresses of this same list (see the module docstring)."""

    def names(self, url: str) -> bool:
        """Whether this is the list a certificate naming `url` refers to."""
        return url == self.url or url in self.aliases

    @classmethod
    def empty(cls, url: str, size: int = MIN_ENTRIES) -> StatusList:
        if size < MIN_ENTRIES or size % 8:
            raise ValueError(f"a status list has a multiple of 8 entries, at least {MIN_ENTRIES}")
        return cls(url, bytes(size // 8))

    @property
    def size(self) -> int:
        return len(self.bits) * 8

    def is_revoked(self, index: int) -> bool:
        self._check_index(index)
        return bool(self.bits[index // 8] & (0x80 >> (index % 8)))

    def reason(self, index: int) -> str | None:
        """The reason code of a revoked entry ("unspecified" if none was published), else None."""
        return self.reasons.get(index, "unspecified") if self.is_revoked(index) else None

    def revoked_indexes(self) -> set[int]:
        """Every revoked entry."""
        return {offset * 8 + bit for offset, byte in enumerate(self.bits) if byte
                for bit in range(8) if byte & (0x80 >> bit)}

    def revoke(self, index: int, reason: str = "unspecified") -> StatusList:
        """A copy with entry `index` revoked for `reason` (one of `REVOCATION_REASONS`)."""
        self._check_index(index)
        if reason not in REVOCATION_REASONS:
            raise ValueError(f"unknown revocation reason {reason!r}")
        bits = bytearray(self.bits)
        bits[index // 8] |= 0x80 >> (index % 8)
        return replace(self, bits=bytes(bits), reasons=MappingProxyType({**self.reasons, index: reason}))

    def encoded_list(self) -> str:
        return "u" + b64url_encode(gzip.compress(self.bits, mtime=0))

    def to_claims(self, issued_at: datetime, valid_until: datetime) -> dict[str, Any]:
        """The JWS payload: the status list credential plus `iat` and `exp`."""
        return {
            "@context": [VC_CONTEXT],
            "id": self.url,
            **({"alsoKnownAs": list(self.aliases)} if self.aliases else {}),
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "validFrom": format_time(issued_at),
            "validUntil": format_time(valid_until),
            "credentialSubject": {
                "id": f"{self.url}#list",
                "type": "BitstringStatusList",
                "statusPurpose": "revocation",
                "encodedList": self.encoded_list(),
                "revocationReasons": {str(index): reason for index, reason in sorted(self.reasons.items())},
            },
            "iat": int(issued_at.timestamp()),
            "exp": int(valid_until.timestamp()),
        }

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> StatusList:
        """Read the payload back; `StatusListError("status_list_malformed")` when it does not fit."""
        try:
            subject = claims["credentialSubject"]
            if subject["type"] != "BitstringStatusList" or subject["statusPurpose"] != "revocation":
                raise ValueError("not a revocation bitstring status list")
            encoded = subject["encodedList"]
            if not isinstance(encoded, str) or not encoded.startswith("u"):
                raise ValueError("encodedList is not multibase base64url")
            bits = _bitstring(encoded)
            reasons = {int(index): str(reason) for index, reason in subject.get("revocationReasons", {}).items()}
            url = claims["id"]
            if not isinstance(url, str) or len(bits) * 8 < MIN_ENTRIES:
                raise ValueError("id missing or list too short")
            aliases = claims.get("alsoKnownAs", [])
            if not isinstance(aliases, list) or not all(isinstance(alias, str) for alias in aliases):
                raise ValueError("alsoKnownAs must be a list of URLs")
        except (KeyError, TypeError, ValueError, OSError, EOFError) as error:
            raise StatusListError("status_list_malformed", f"status list is malformed: {error}") from None
        return cls(url, bits, MappingProxyType(reasons), tuple(aliases))

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.size:
            raise IndexError(f"status list index {index} outside 0..{self.size - 1}")


@lru_cache(maxsize=16)
def _bitstring(encoded_list: str) -> bytes:
    """The bitstring of an `encodedList`: a pure function of the signed text, so each published
    list is decompressed once per process, not once per verification."""
    return gzip.decompress(b64url_decode(encoded_list[1:]))


def entry_index(number: int, key: bytes, size: int = MIN_ENTRIES) -> int:
    """The status-list index of the `number`-th entry (0-based) of a list whose permutation key is `key`.

    A keyed Feistel permutation of 0..size-1 (cycle-walking a balanced Feistel network over the next
    even power of two): distinct numbers always give distinct indexes, in O(1), and consecutive
    issuances land far apart, so the list says nothing about issuance order. `StatusListError
    ("status_list_full")` once `number` reaches `size`."""
    if not 0 <= number < size:
        raise StatusListError("status_list_full", f"all {size} status list entries are allocated")
    half_bits = (max(size - 1, 1).bit_length() + 1) // 2
    mask = (1 << half_bits) - 1
    value = number
    while True:
        left, right = value >> half_bits, value & mask
        for round_number in range(_FEISTEL_ROUNDS):
            digest = hashlib.blake2b(bytes([round_number]) + right.to_bytes(4, "big"), key=key, digest_size=4).digest()
            left, right = right, left ^ (int.from_bytes(digest, "big") & mask)
        value = (left << half_bits) | right
        if value < size:
            return value


def sign_status_list(
    status_list: StatusList, signer: Signer, *, now: datetime, validity: timedelta = DEFAULT_VALIDITY
) -> str:
    """The status list credential signed by `signer` (the exchange's seal)."""
    return sign_jws(status_list.to_claims(now, now + validity), signer, typ=STATUS_LIST_TYP)


def read_status_list(token: str, trust: TrustStore, *, now: datetime, signer_uscc: str | None = None) -> StatusList:
    """Verify a status list credential and return the list, or raise `StatusListError`.

    `signer_uscc`: the exchange's USCC, whose seal alone signs the city's status lists; a verifier
    passes it, so that no other department's seal can sign a list that un-revokes a certificate
    (None: any seal under the root, for the exchange's checks of lists it read from its own store).

    Codes: `status_list_invalid` (signature, chain or seal status fails), `status_list_not_by_exchange`
    (a genuine seal of another department signed it), `status_list_malformed`, `status_list_stale`
    (past `exp`).
    """
    verification = verify_jws(token, trust, now=now, remember=True)
    if not verification.verdict.valid or verification.claims is None:
        failed = ", ".join(c.code for c in verification.verdict.checks if c.status is not Status.VALID)
        raise StatusListError("status_list_invalid", f"status list signature does not verify ({failed})")
    signer = verification.verdict.signer
    if signer_uscc is not None and (signer is None or signer.organization_identifier != USCC_PREFIX + signer_uscc):
        raise StatusListError("status_list_not_by_exchange", "the status list is not signed by the exchange's seal")
    if (verification.header or {}).get("typ") != STATUS_LIST_TYP:
        raise StatusListError("status_list_malformed", "not a status list credential (typ)")
    status_list = _read_list(token, verification.claims)
    exp = verification.claims.get("exp")
    if not isinstance(exp, int) or exp < now.timestamp():
        raise StatusListError("status_list_stale", "the status list is past its validity")
    return status_list



def _read_list(token: str, claims: Mapping[str, Any]) -> StatusList:
    """`StatusList.from_claims` of the verified `claims` of `token`: a pure function of the signed
    text, so each published list is read once per process (its revocation reasons included), not
    once per verification; a list that cannot be read is refused again each time, never remembered."""
    status_list = _lists_read.get(token)
    if status_list is None:
        status_list = StatusList.from_claims(claims)
        if len(_lists_read) >= _LISTS_KEPT:
            _lists_read.clear()
        _lists_read[token] = status_list
    return status_list


_LISTS_KEPT = 16
_lists_read: dict[str, StatusList] = {}
"""Signed status list (the token) -> the list it states."""


def held_status_lists(tokens: Iterable[str]) -> StatusListSource:
    """The lists a verifier was given (an offline bundle), each found by the address it was signed
    under (`id`) or an earlier one (`alsoKnownAs`). Nothing is trusted here: the list found is
    verified like any other (`read_status_list`); a token whose payload cannot be read is found by
    no address."""
    by_url: dict[str, str] = {}
    for token in tokens:
        claims = _unverified_claims(token)
        names = [claims.get("id"), *claims.get("alsoKnownAs", ())] if isinstance(claims, dict) else []
        for name in names:
            if isinstance(name, str):
                by_url.setdefault(name, token)
    return by_url.get


def signed_at(token: str) -> datetime | None:
    """When a signed list was signed (its `iat`, unverified: for telling a verifier how current it
    is); None when it cannot be read (the verdict reports a bad list)."""
    claims = _unverified_claims(token)
    try:
        return datetime.fromtimestamp(int(claims["iat"]), timezone.utc)  # type: ignore[index]
    except (ValueError, KeyError, TypeError, OverflowError):
        return None


def _unverified_claims(token: str) -> object:
    if token.count(".") != 2:
        return None
    try:
        return json.loads(b64url_decode(token.split(".")[1]))
    except ValueError:
        return None
