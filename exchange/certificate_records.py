"""The stored e-certificates: one row per issued certificate, in its three forms, with its serial,
its entry in one of the certificate status lists (list and index) and its revocation. The holder
appears only as a subject key, and the forms (which carry the holder's name, masked ID number and
ID binding) only sealed under the keyring (`CertificateForms`), as license credentials are: a
copy of the database gives neither."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, composite, mapped_column

from core.orm import Base, UtcDateTime
from exchange.keyring import RecordCipher, Sealed, sealed_or_none


class CertificateStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"


class IssuedCertificate(Base):
    """One issued certificate in its three forms; the holder only as a subject key."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("issuer_department", "serial", name="uq_certificates_issuer_serial"),
                      UniqueConstraint("status_list", "status_index", name="uq_certificates_status_entry"),
                      Index("ix_certificates_status_list_status", "status_list", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(160), unique=True)
    proof_code: Mapped[str] = mapped_column(String(64))
    issuer_department: Mapped[str] = mapped_column(String(64))
    serial: Mapped[int] = mapped_column(Integer)
    holder_key: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status_list: Mapped[int] = mapped_column(Integer)
    """The number of the status list holding the certificate's entry (1 for those issued first)."""
    status_index: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    source_license: Mapped[str | None] = mapped_column(String(160), index=True)
    """The license version the certificate's data was read from (`exchange.license_certificates`),
    None for a record pulled from its source department."""
    forms_key_id: Mapped[int | None] = mapped_column(Integer)
    forms_blob: Mapped[bytes | None] = mapped_column("forms_sealed", LargeBinary)
    forms_sealed: Mapped[Sealed | None] = composite(sealed_or_none, "forms_key_id", "forms_blob")
    """The three forms, sealed (`seal_forms`; `certificate_forms` opens them)."""
    credential: Mapped[str | None] = mapped_column(Text)
    qr_payload: Mapped[str | None] = mapped_column(Text)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The forms in the clear: only certificates issued before the forms were sealed, until
    `mianzheng keys reencrypt` seals them (`exchange.reencryption`)."""


@dataclass(frozen=True)
class CertificateForms:
    """A certificate's three forms: the signed credential (JWS), the QR payload and the sealed PDF."""

    credential: str
    qr_payload: str
    pdf: bytes


def forms_bound(identifier: str) -> str:
    """What a certificate's sealed forms are bound to (they cannot be moved to another row)."""
    return f"certificate-forms\n{identifier}"


def seal_forms(box: RecordCipher, identifier: str, forms: CertificateForms) -> Sealed:
    """The forms sealed for the certificate `identifier` (box: the keyring's certificate-forms cipher)."""
    return box.seal({"credential": forms.credential, "qr_payload": forms.qr_payload,
                     "pdf": base64.b64encode(forms.pdf).decode("ascii")}, forms_bound(identifier))


def certificate_forms(box: RecordCipher, certificate: IssuedCertificate) -> CertificateForms:
    """The certificate's forms: opened, or as stored in the clear before they were sealed."""
    sealed = certificate.forms_sealed
    if sealed is None:
        assert certificate.credential is not None and certificate.qr_payload is not None and certificate.pdf is not None
        return CertificateForms(certificate.credential, certificate.qr_payload, certificate.pdf)
    opened = box.open(sealed, forms_bound(certificate.identifier))
    return CertificateForms(opened["credential"], opened["qr_payload"], base64.b64decode(opened["pdf"]))
