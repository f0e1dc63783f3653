"""Issuing, listing and revoking e-certificates (电子证明), and the city's status list.

A citizen asks for one of their own proofs. The exchange pulls the record from the proof's
source department (the citizen's own request is the basis of the access, which is logged like
any other), then the source department issues the certificate under its own seal in three
forms of the same content (`exchange.certificates`): the signed credential (JWS), the PDF
with the visible seal, the QR code and the embedded credential (PAdES), and the QR payload.
Each certificate gets the next serial of its issuer and a random entry in the status list.

Revocation is the issuing department's: it sets the certificate's bit in the status list and
records the reason; the signed status list is re-signed on the next read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from sqlalchemy import JSON, Integer, LargeBinary, String, Text, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from catalog.model import Catalog, Mode, Proof, Subject
from catalog.orm import Base, UtcDateTime
from exchange.access_log import AccessEntry, Outcome, record_access
from exchange.asserted_facts import ensure_fact_holds
from exchange.certificates.credential import sign_credential
from exchange.certificates.model import StatusEntry, build_content
from exchange.certificates.pdf import issue_pdf
from exchange.certificates.qr_payload import encode_qr
from exchange.certificates.status_list import DEFAULT_VALIDITY as STATUS_LIST_VALIDITY
from exchange.certificates.status_list import REVOCATION_REASONS, StatusList, allocate_index, sign_status_list
from exchange.errors import InvalidInput, NotFound
from exchange.sources.contract import PULLED_MODES
from exchange.sources.directory import SourceDirectory
from exchange.pull_service import pull_logged
from exchange.subjects import subject_key
from seals.registry import active_signer
from seals.settings import SealSettings

OWN_REQUEST_BASIS = "本人申请开具电子证明"
STATUS_LIST_ID = 1
TOKEN_REFRESH_MARGIN = timedelta(hours=1)
_ATTEMPTS = 4


class CertificateStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"


class IssuedCertificate(Base):
    """One issued certificate in its three forms; the holder only as a subject key."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("issuer_department", "serial", name="uq_certificates_issuer_serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(160), unique=True)
    proof_code: Mapped[str] = mapped_column(String(64))
    issuer_department: Mapped[str] = mapped_column(String(64))
    serial: Mapped[int] = mapped_column(Integer)
    holder_key: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status_index: Mapped[int] = mapped_column(Integer, unique=True)
    status: Mapped[str] = mapped_column(String(16))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    credential: Mapped[str] = mapped_column(Text)
    qr_payload: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)


class StatusListRecord(Base):
    """The city's certificate status list: the bitstring, the reasons, and its last signed form."""

    __tablename__ = "status_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    reasons: Mapped[dict[str, str]] = mapped_column(JSON)
    token: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class NotIssuable(InvalidInput):
    """The proof is not one a citizen can have issued online."""


class CertificateNotFound(NotFound):
    """No such certificate (or not the caller's)."""


@dataclass(frozen=True)
class IssuanceContext:
    sessions: sessionmaker[Session]
    catalog: Catalog
    sources: SourceDirectory
    subject_hash_key: bytes = field(repr=False)
    seal_settings: SealSettings
    exchange_department: str
    status_list_url: str
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)


def issuable_proofs(catalog: Catalog) -> list[Proof]:
    """Proofs a person can have issued about themself, whose data the exchange can pull; those
    issued online first."""
    candidates = [p for p in catalog.proofs.values()
                  if p.subject is Subject.PERSON and p.mode in PULLED_MODES and p.issued_to_subject]
    return sorted(candidates, key=lambda proof: proof.mode is not Mode.ONLINE_ISSUE)


def issue_certificate(context: IssuanceContext, holder_name: str, id_number: str, proof_code: str,
                      purpose: str) -> IssuedCertificate:
    """Pull the holder's record and issue the certificate in its three forms (see the module).

    `PullRefused` (subject-not-found, source-unavailable) when the source gives no record;
    `FactNotEstablished` when the record contradicts what the proof's title asserts."""
    proof = next((p for p in issuable_proofs(context.catalog) if p.code == proof_code), None)
    if proof is None:
        raise NotIssuable("proof", f"{proof_code} cannot be issued online as an e-certificate")
    key = subject_key(context.subject_hash_key, id_number)
    entry = AccessEntry(outcome=Outcome.ALLOWED, consumer_department=proof.department, proof=proof.code,
                        subject_key=key, legal_basis=OWN_REQUEST_BASIS, purpose=purpose)
    pulled = pull_logged(context.sessions, context.sources, entry, proof.code, id_number, holder_name)
    ensure_fact_holds(context.catalog, proof, pulled.record)
    issued: list[IssuedCertificate] = []

    def store(session: Session) -> None:
        now = context.clock()
        serial = (session.scalar(select(func.max(IssuedCertificate.serial)).where(
            IssuedCertificate.issuer_department == proof.department)) or 0) + 1
        taken = set(session.scalars(select(IssuedCertificate.status_index)))
        index = allocate_index(taken)
        content = build_content(
            proof=proof, department=context.catalog.departments[proof.department], holder_name=holder_name,
            id_number=id_number, data=pulled.record, purpose=purpose, serial=serial,
            status=StatusEntry(context.status_list_url, index), issued_at=now, searched_at=pulled.as_of)
        signer = active_signer(session, context.seal_settings, proof.department)
        credential = sign_credential(content, signer)
        qr_payload = encode_qr(content, signer)
        certificate = IssuedCertificate(
            identifier=content.identifier, proof_code=proof.code, issuer_department=proof.department, serial=serial,
            holder_key=key, purpose=purpose, issued_at=content.issued_at, valid_until=content.valid_until,
            status_index=index, status=CertificateStatus.VALID, credential=credential, qr_payload=qr_payload,
            pdf=issue_pdf(content, credential, qr_payload, signer, tsa_url=context.seal_settings.tsa_url))
        session.add(certificate)
        session.flush()
        issued[:] = [certificate]

    for attempt in range(_ATTEMPTS):
        try:
            record_access(context.sessions, entry, alongside=store)
            return issued[0]
        except IntegrityError:  # a concurrent issuance took the serial or the status entry
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def holder_certificates(session: Session, hash_key: bytes, id_number: str) -> list[IssuedCertificate]:
    """The holder's certificates, newest first."""
    key = subject_key(hash_key, id_number)
    return list(session.scalars(select(IssuedCertificate).where(IssuedCertificate.holder_key == key)
                                .order_by(IssuedCertificate.issued_at.desc(), IssuedCertificate.id.desc())))


def list_certificates(session: Session, department: str | None = None) -> list[IssuedCertificate]:
    """Every certificate (or those `department` issued), newest first."""
    query = select(IssuedCertificate).order_by(IssuedCertificate.issued_at.desc(), IssuedCertificate.id.desc())
    if department is not None:
        query = query.where(IssuedCertificate.issuer_department == department)
    return list(session.scalars(query))


def find_certificate(session: Session, identifier: str) -> IssuedCertificate:
    found = session.scalars(select(IssuedCertificate).where(IssuedCertificate.identifier == identifier)).first()
    if found is None:
        raise CertificateNotFound(f"no certificate {identifier}")
    return found


def revoke_certificate(session: Session, identifier: str, department: str, reason: str,
                       now: datetime) -> IssuedCertificate:
    """Revoke a certificate of `department` (only the issuer may) and mark it in the status list."""
    if reason not in REVOCATION_REASONS:
        raise InvalidInput("reason", f"one of {', '.join(REVOCATION_REASONS)}")
    certificate = find_certificate(session, identifier)
    if certificate.issuer_department != department:
        raise CertificateNotFound(f"department {department} issued no certificate {identifier}")
    if certificate.status == CertificateStatus.REVOKED:
        return certificate
    certificate.status = CertificateStatus.REVOKED
    certificate.revoked_at = now
    certificate.revocation_reason = reason
    record = _status_record(session)
    revoked = _status_list(record, "").revoke(certificate.status_index, reason)
    record.bits, record.reasons = revoked.bits, {str(k): v for k, v in revoked.reasons.items()}
    record.token = record.token_expires_at = None
    session.flush()
    return certificate


def status_list_token(session: Session, seal_settings: SealSettings, exchange_department: str, url: str,
                      now: datetime) -> str:
    """The signed status list, re-signed when changed or close to expiry (the caller commits)."""
    record = _status_record(session)
    if record.token and record.token_expires_at and record.token_expires_at - now > TOKEN_REFRESH_MARGIN:
        return record.token
    signer = active_signer(session, seal_settings, exchange_department)
    record.token = sign_status_list(_status_list(record, url), signer, now=now)
    record.token_expires_at = now + STATUS_LIST_VALIDITY
    session.flush()
    return record.token


def _status_record(session: Session) -> StatusListRecord:
    record = session.get(StatusListRecord, STATUS_LIST_ID)
    if record is None:
        empty = StatusList.empty("")
        record = StatusListRecord(id=STATUS_LIST_ID, bits=empty.bits, reasons={})
        session.add(record)
        session.flush()
    return record


def _status_list(record: StatusListRecord, url: str) -> StatusList:
    return StatusList(url, record.bits, {int(k): v for k, v in record.reasons.items()})
