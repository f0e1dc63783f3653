"""What the catalogs published so far let each department issue, and how each kind of document
reads: who issues which proof or license type under which name (`IssuedKind`), and, for a
proof, the definitions a certificate of it must read as (`model.reads_as_catalogued`: its items'
labels and texts, the statement). The service builds it from its own catalogs
(`api.live_catalog`); an offline verifier from the catalogs of the exchange's signed list
(`issuer_list`). Called with a document's content it says whether its issuer may have made it
as it reads (`IssuerCompetence`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from catalog.model import Catalog, IssuedKind, LicenseType, Proof
from exchange.certificates.model import CertificateContent, SealedFacts, reads_as_catalogued

NOT_COMPETENT = "issuer_not_competent"
NOT_AS_CATALOGUED = "content_not_catalogued"


@dataclass(frozen=True)
class PublishedDocuments:
    """Every kind of document the catalogs define, with each definition it had (a proof or
    license type may read differently from one catalog version to the next)."""

    definitions: Mapping[IssuedKind, tuple[Proof | LicenseType, ...]]

    @classmethod
    def of(cls, catalogs: Iterable[Catalog]) -> PublishedDocuments:
        found: dict[IssuedKind, list[Proof | LicenseType]] = {}
        for catalog in catalogs:
            for document in (*catalog.proofs.values(), *catalog.licenses.values()):
                kind = IssuedKind(document.code, catalog.departments[document.department].uscc, document.name_zh)
                known = found.setdefault(kind, [])
                if document not in known:
                    known.append(document)
        return cls({kind: tuple(documents) for kind, documents in found.items()})

    @property
    def kinds(self) -> frozenset[IssuedKind]:
        return frozenset(self.definitions)

    def __call__(self, content: SealedFacts) -> str | None:
        """None when a catalog lets the issuer make `content` as it reads; otherwise why not:
        `issuer_not_competent` (no catalog has the issuer issue that kind under that name) or
        `content_not_catalogued` (a certificate whose items or statement no definition of its
        proof writes)."""
        definitions = self.definitions.get(IssuedKind(content.document_code, content.issuer.uscc,
                                                      content.document_name_zh))
        if not definitions:
            return NOT_COMPETENT
        if isinstance(content, CertificateContent) and not any(
                reads_as_catalogued(content, proof) for proof in definitions if isinstance(proof, Proof)):
            return NOT_AS_CATALOGUED
        return None
