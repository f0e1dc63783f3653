"""The signed list of who issues what, for verifying offline: every (document code, issuer's USCC)
pair of every catalog the installation published up to the moment of signing, signed by the
exchange's seal (JWS, ES256, `x5c` = the seal's chain, typ `mianzheng-issuers+jwt`).

Online, the service answers from its own catalogs whether the department whose genuine seal made
a certificate or license is one that issues that kind of document. An offline verifier has no
catalog; with this list (`issuers.jws` in the exported trust material, also served at
`GET /api/v1/trust/issuers`) it can tell the same, for anything issued before the list was
signed. Publications only add pairs, so a list never wrongly names an issuer; what it does not
name may have been added after it was signed (see `IssuerList`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from seals.jws import sign_jws
from seals.keys import Signer
from seals.trust import TrustStore
from seals.verify_jws import NotSignedAsExpected, claims_signed_by

ISSUER_LIST_TYP = "mianzheng-issuers+jwt"
ISSUER_LIST_FILE = "issuers.jws"


class IssuerListError(ValueError):
    """A signed issuer list that cannot be used, with the reason in Chinese."""


@dataclass(frozen=True)
class IssuerList:
    """Who issues what, as of `signed_at`: called as an `IssuerCompetence` (code, USCC)."""

    pairs: frozenset[tuple[str, str]]
    signed_at: datetime

    def __call__(self, code: str, uscc: str) -> bool:
        return (code, uscc) in self.pairs

    def knows_of(self, issued_at: datetime) -> bool:
        """Whether a document issued at `issued_at` was issued under catalogs the list covers."""
        return issued_at <= self.signed_at


def sign_issuer_list(pairs: Iterable[tuple[str, str]], signer: Signer, *, now: datetime) -> str:
    """The list of `pairs` (code, USCC), signed by `signer` (the exchange's seal) at `now`."""
    by_issuer: dict[str, list[str]] = {}
    for code, uscc in sorted(set(pairs)):
        by_issuer.setdefault(uscc, []).append(code)
    return sign_jws({"iat": int(now.timestamp()), "issuers": dict(sorted(by_issuer.items()))}, signer,
                    typ=ISSUER_LIST_TYP)


def read_issuer_list(token: str, trust: TrustStore, exchange_uscc: str) -> IssuerList:
    """The list `token` carries, or `IssuerListError` saying why it cannot be used: its signature,
    chain or seal status fails under `trust`, another seal than the exchange's signed it, or it
    is no issuer list."""
    try:
        claims = claims_signed_by(token, trust, uscc=exchange_uscc, typ=ISSUER_LIST_TYP, signer_zh="交换平台",
                                  document_zh="出具单位清单")
    except NotSignedAsExpected as refused:
        raise IssuerListError(str(refused)) from None
    return IssuerList(_pairs(claims.get("issuers")), _signed_at(claims.get("iat")))


def _pairs(issuers: Any) -> frozenset[tuple[str, str]]:
    if not isinstance(issuers, Mapping) or not all(
            isinstance(uscc, str) and isinstance(codes, list) and all(isinstance(code, str) for code in codes)
            for uscc, codes in issuers.items()):
        raise IssuerListError("不是出具单位清单")
    return frozenset((code, uscc) for uscc, codes in issuers.items() for code in codes)


def _signed_at(iat: Any) -> datetime:
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise IssuerListError("不是出具单位清单")
    return datetime.fromtimestamp(iat, timezone.utc)
