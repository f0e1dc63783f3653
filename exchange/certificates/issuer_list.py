"""The signed list of who issues what, for verifying offline: every kind of document (catalog code,
the issuer's USCC, the name the document bears) of every catalog the installation published up to
the moment of signing, signed by the exchange's seal (JWS, ES256, `x5c` = the seal's chain, typ
`mianzheng-issuers+jwt`): `{iat, issuers: {<USCC>: {<code>: [<name>, ...]}}}`.

Online, the service answers from its own catalogs whether the department whose genuine seal made
a certificate or license is one that issues that kind of document. An offline verifier has no
catalog; with this list (`issuers.jws` in the exported trust material, also served at
`GET /api/v1/trust/issuers`) it can tell the same, for anything issued before the list was
signed. Publications only add kinds, so a list never wrongly names an issuer; what it does not
name may have been added after it was signed (see `IssuerList`). The name is part of the kind: a
department's seal over its own proof code, retitled as another department's proof, is not one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from catalog.model import IssuedKind
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
    """Who issues what, as of `signed_at`: called as an `IssuerCompetence` (code, USCC, name)."""

    kinds: frozenset[IssuedKind]
    signed_at: datetime

    def __call__(self, code: str, uscc: str, name_zh: str) -> bool:
        return IssuedKind(code, uscc, name_zh) in self.kinds

    def knows_of(self, issued_at: datetime) -> bool:
        """Whether a document issued at `issued_at` was issued under catalogs the list covers."""
        return issued_at <= self.signed_at


def sign_issuer_list(kinds: Iterable[IssuedKind], signer: Signer, *, now: datetime) -> str:
    """The list of `kinds`, signed by `signer` (the exchange's seal) at `now`."""
    by_issuer: dict[str, dict[str, list[str]]] = {}
    for kind in sorted(set(kinds)):
        by_issuer.setdefault(kind.issuer_uscc, {}).setdefault(kind.code, []).append(kind.name_zh)
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
    return IssuerList(_kinds(claims.get("issuers")), _signed_at(claims.get("iat")))


def _kinds(issuers: Any) -> frozenset[IssuedKind]:
    if not isinstance(issuers, Mapping) or not all(
            isinstance(uscc, str) and isinstance(codes, Mapping) and all(
                isinstance(code, str) and isinstance(names, list) and all(isinstance(name, str) for name in names)
                for code, names in codes.items())
            for uscc, codes in issuers.items()):
        raise IssuerListError("不是出具单位清单")
    return frozenset(IssuedKind(code, uscc, name) for uscc, codes in issuers.items()
                     for code, names in codes.items() for name in names)


def _signed_at(iat: Any) -> datetime:
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise IssuerListError("不是出具单位清单")
    return datetime.fromtimestamp(iat, timezone.utc)
