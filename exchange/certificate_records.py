"""The stored e-certificates: one row per issued certificate, in its three forms, with its serial,
its entry in one of the certificate status lists (list and index) and its revocation. The holder appears only as a subject key."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, UtcDateTime


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
    credential: Mapped[str] = mapped_column(Text)
    qr_payload: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
