"""Signed receipts of exchange answers.

An answer to a department's request is `{"answer": {...}, "receipt": "<JWS>"}`. The receipt
is a JWS (ES256, `x5c` = the exchange's seal chain, typ `mianzheng-receipt+jwt`) signed with
the seal of the department that operates the exchange. It binds

- `request_sha256`: SHA-256 of the canonical JSON of the request as the exchange understood
  it, with the subject's ID number replaced by its subject key (so the receipt reveals no ID
  number, not even to a brute-force over the hash), and
- `response_sha256`: SHA-256 of the canonical JSON of the `answer` object exactly as returned,

so the consumer can later prove what it asked and what it was told, and anyone holding the
city's trust material can check it (`check_receipt`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.canonical import canonical_sha256
from core.base64url import b64url_decode
from seals.ca import USCC_PREFIX
from seals.jws import sign_jws
from seals.keys import Signer
from seals.trust import TrustStore
from seals.verdict import Verdict
from seals.verify_jws import verify_jws

RECEIPT_TYPE = "mianzheng-receipt+jwt"


def sign_receipt(
    signer: Signer,
    *,
    receipt_id: str,
    issued_at: datetime,
    request_document: Mapping[str, Any],
    answer: Mapping[str, Any],
    consumer: Mapping[str, str],
) -> str:
    """The receipt binding `request_document` to `answer` (both hashed canonically)."""
    claims = {
        "jti": receipt_id,
        "iat": int(issued_at.timestamp()),
        "request_id": answer["request_id"],
        "consumer": dict(consumer),
        "matter": answer["matter"],
        "proof": answer["proof"],
        "source": answer["source"]["department"],
        "request_sha256": canonical_sha256(request_document),
        "response_sha256": canonical_sha256(answer),
    }
    return sign_jws(claims, signer, typ=RECEIPT_TYPE)


@dataclass(frozen=True)
class ReceiptCheck:
    """The seal verdict on the receipt, whether the exchange's seal made it (as a receipt), and
    whether it matches the answer it came with."""

    verdict: Verdict
    by_the_exchange: bool
    """Signed by the seal of the exchange named, with a receipt's `typ`: no other seal of the city
    can vouch for what the exchange answered."""
    matches_answer: bool
    claims: dict[str, Any] | None

    @property
    def valid(self) -> bool:
        return self.verdict.valid and self.by_the_exchange and self.matches_answer


def check_receipt(receipt: str, answer: Mapping[str, Any], trust: TrustStore, exchange_uscc: str) -> ReceiptCheck:
    """Verify the receipt's seal against `trust`, its signer against the exchange's USCC and its
    response hash against `answer`."""
    result = verify_jws(receipt, trust)
    claims = result.claims if result.verdict.valid else None
    signer = result.verdict.signer
    by_the_exchange = claims is not None and (result.header or {}).get("typ") == RECEIPT_TYPE \
        and signer is not None and signer.organization_identifier == USCC_PREFIX + exchange_uscc
    matches = claims is not None and claims.get("response_sha256") == canonical_sha256(answer)
    return ReceiptCheck(verdict=result.verdict, by_the_exchange=by_the_exchange, matches_answer=matches, claims=claims)


def receipt_id(receipt: str) -> str:
    """The `jti` of a receipt the exchange has just signed itself (the payload is not verified)."""
    claims = json.loads(b64url_decode(receipt.split(".")[1]))
    return str(claims["jti"])
