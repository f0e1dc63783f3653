"""The license library's tables.

- `licenses`: one row per license (a holder's 结婚证, say): type, issuer, serial, holder (a keyed
  hash only), the current version and whether it is revoked; `reference` is the issuing
  department's own record id, unique per department, which makes issuing and bulk import
  idempotent.
- `license_versions`: one row per version: its identifier, times, status (valid, superseded,
  revoked), its entry in a license status list (the list's number and the index in it), and the
  credential sealed with AES-GCM bound to the identifier (it holds every data item in clear).
- `license_nonces`: the nonces of presentations already verified, each claimed once per license
  version (`nonce` holds SHA-256 of the version's identifier and the nonce).
- `license_presentations`: presentations kept for their few minutes under a random reference,
  so a QR code can carry a link instead of the presentation (too long for one); sealed like
  the credentials.
- `license_usages`: every usage copy (加注件) the exchange made: which version, matter,
  department, case and until when.

Serials and status-list entries come from atomic counters; versions and references are claimed
by unique constraints, and a collision is retried by the service. The license status lists are
the `licenses` kind of `status_lists` (`exchange.status_lists`): list 2 first, then as many as
the versions fill.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, composite, mapped_column

from core.orm import Base, UtcDateTime
from exchange.keyring import Sealed, sealed_or_none


class LicenseState(StrEnum):
    VALID = "valid"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"


class LicenseRecord(Base):
    __tablename__ = "licenses"
    __table_args__ = (
        UniqueConstraint("issuer_department", "license_type", "serial", name="uq_licenses_issuer_type_serial"),
        UniqueConstraint("issuer_department", "reference", name="uq_licenses_issuer_reference"),
        UniqueConstraint("license_type", "sole_holder_key", name="uq_licenses_type_sole_holder"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    license_type: Mapped[str] = mapped_column(String(64))
    issuer_department: Mapped[str] = mapped_column(String(64))
    serial: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(128))
    request_digest: Mapped[str | None] = mapped_column(String(64))
    """Keyed digest of the issuing request: the same reference with another body is a conflict
    (None for licenses issued before it was kept)."""
    holder_key: Mapped[str] = mapped_column(String(64), index=True)
    sole_holder_key: Mapped[str | None] = mapped_column(String(64))
    """The holder's key while a license of a one-per-holder type is not revoked (None otherwise):
    the unique claim that keeps a second one from being issued, also by two issues at once."""
    holder_kind: Mapped[str] = mapped_column(String(16))
    current_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LicenseVersionRecord(Base):
    __tablename__ = "license_versions"
    __table_args__ = (UniqueConstraint("license_id", "version", name="uq_license_versions_license_version"),
                      UniqueConstraint("status_list", "status_index", name="uq_license_versions_status_entry"),
                      Index("ix_license_versions_status_list_status", "status_list", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id"))  # indexed by the unique one
    version: Mapped[int] = mapped_column(Integer)
    identifier: Mapped[str] = mapped_column(String(160), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    status_list: Mapped[int] = mapped_column(Integer)
    status_index: Mapped[int] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    credential_key_id: Mapped[int] = mapped_column(Integer)
    credential_blob: Mapped[bytes] = mapped_column("credential_sealed", LargeBinary)
    credential_sealed: Mapped[Sealed] = composite(sealed_or_none, "credential_key_id", "credential_blob")


class LicenseNonce(Base):
    __tablename__ = "license_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    used_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LicensePresentation(Base):
    __tablename__ = "license_presentations"

    reference: Mapped[str] = mapped_column(String(43), primary_key=True)
    presentation_key_id: Mapped[int] = mapped_column(Integer)
    presentation_blob: Mapped[bytes] = mapped_column("presentation_sealed", LargeBinary)
    presentation_sealed: Mapped[Sealed] = composite(sealed_or_none, "presentation_key_id", "presentation_blob")
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class LicenseUsage(Base):
    __tablename__ = "license_usages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("license_versions.id"), index=True)
    matter: Mapped[str] = mapped_column(String(64), index=True)
    department: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(128))
    case_number: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime] = mapped_column(UtcDateTime())
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime())
