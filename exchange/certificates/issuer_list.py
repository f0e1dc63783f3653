"""The signed list of who issues what, for verifying offline: every catalog the installation
published up to the moment of signing, signed by the exchange's seal (JWS, ES256, `x5c` = the
seal's chain, typ `mianzheng-issuers+jwt`): `{iat, catalogs: [<catalog document>, ...]}`, oldest
first.

Online, the service answers from its own catalogs whether the department whose genuine seal made
a certificate or license is one that issues that kind of document under that name, and whether a
certificate reads as its proof's definition writes it (`published_documents`). An offline
verifier has no catalog; with this list (`issuers.jws` in the exported trust material, also
served at `GET /api/v1/trust/issuers`) it can tell the same, for anything issued before the list
was signed. Publications only add catalogs, so a list never wrongly names an issuer; what it does
not name may have been added after it was signed (see `IssuerList`). A list of codes alone,
written by an earlier version, is not read: export again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from catalog.loading import catalog_from_document
from catalog.model import IssuedKind
from exchange.certificates.model import SealedFacts
from exchange.certificates.published_documents import PublishedDocuments
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
    """The catalogs published up to `signed_at`: called as an `IssuerCompetence` (see
    `PublishedDocuments`)."""

    documents: tuple[Mapping[str, Any], ...]
    """The catalog documents, as signed."""
    signed_at: datetime
    published: PublishedDocuments = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            catalogs = [catalog_from_document(dict(document)) for document in self.documents]
        except (KeyError, TypeError, ValueError):  # CatalogInvalid is a ValueError
            raise IssuerListError("不是出具单位清单") from None
        object.__setattr__(self, "published", PublishedDocuments.of(catalogs))

    @property
    def kinds(self) -> frozenset[IssuedKind]:
        return self.published.kinds

    def __call__(self, content: SealedFacts) -> str | None:
        return self.published(content)

    def knows_of(self, issued_at: datetime) -> bool:
        """Whether a document issued at `issued_at` was issued under catalogs the list covers."""
        return issued_at <= self.signed_at


def sign_issuer_list(documents: Iterable[Mapping[str, Any]], signer: Signer, *, now: datetime) -> str:
    """The list of the catalog `documents` (every published version, oldest first), signed by
    `signer` (the exchange's seal) at `now`."""
    return sign_jws({"iat": int(now.timestamp()), "catalogs": list(documents)}, signer, typ=ISSUER_LIST_TYP)


def read_issuer_list(token: str, trust: TrustStore, exchange_uscc: str) -> IssuerList:
    """The list `token` carries, or `IssuerListError` saying why it cannot be used: its signature,
    chain or seal status fails under `trust`, another seal than the exchange's signed it, or it
    is no issuer list."""
    try:
        claims = claims_signed_by(token, trust, uscc=exchange_uscc, typ=ISSUER_LIST_TYP, signer_zh="交换平台",
                                  document_zh="出具单位清单")
    except NotSignedAsExpected as refused:
        raise IssuerListError(str(refused)) from None
    documents = claims.get("catalogs")
    if not isinstance(documents, list) or not documents or not all(isinstance(d, Mapping) for d in documents):
        raise IssuerListError("不是出具单位清单")
    return IssuerList(tuple(documents), _signed_at(claims.get("iat")))


def _signed_at(iat: Any) -> datetime:
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise IssuerListError("不是出具单位清单")
    return datetime.fromtimestamp(iat, timezone.utc)
