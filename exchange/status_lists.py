"""The city's stored status list: which entry a new certificate gets, and the signed list that
verifiers fetch, kept equal to the certificates table.

Allocation: the `n`-th certificate gets entry `entry_index(n, key)` of the list, `n` coming from
the atomic counter `status-entry:<list>` and `key` being the list's random permutation key: one
counter increment per issuance, no scan of what is allocated, never the same entry twice.

The signed list is derived, never edited: every signing reads the revoked certificates from the
certificates table. A revocation first takes the list's row lock (`UPDATE … revision + 1`), then
marks the certificate and signs the list again in the same transaction, so two revocations at
once are signed one after the other and the second signing sees the first. The jobs process
re-signs the list before it expires (`refresh_status_list`); a GET only reads what is stored.
`check_status_list` compares the signed list with the table; `rebuild_status_list` re-signs it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, LargeBinary, Text, exists, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from catalog.orm import Base, UtcDateTime
from exchange.certificate_records import CertificateStatus, IssuedCertificate
from exchange.certificates.status_list import (
    DEFAULT_VALIDITY,
    StatusList,
    StatusListError,
    entry_index,
    read_status_list,
    sign_status_list,
)
from exchange.counters import next_value
from seals.b64 import b64url_decode
from seals.registry import active_signer
from seals.settings import SealSettings
from seals.trust import TrustStore

STATUS_LIST_ID = 1
REFRESH_BEFORE_EXPIRY = timedelta(hours=6)
"""The jobs process re-signs a list that has less than this left."""
_KEY_BYTES = 16


class StatusListRecord(Base):
    """One status list: its permutation key, how often it was signed, and its current signed form."""

    __tablename__ = "status_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    index_key: Mapped[bytes] = mapped_column(LargeBinary)
    revision: Mapped[int] = mapped_column(Integer)
    token: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class StatusListSigning:
    """What signing the list needs: the seal settings, the exchange's department (whose seal signs)
    and the list's public URL."""

    seal_settings: SealSettings
    exchange_department: str
    url: str


@dataclass(frozen=True)
class StatusListCheck:
    """The signed list compared with the certificates table."""

    revoked_in_table: int
    missing: tuple[int, ...]
    """Entries revoked in the table but not in the signed list: revocations verifiers do not see."""
    extra: tuple[int, ...]
    """Entries set in the signed list whose certificate is not revoked in the table."""
    problem: str | None
    """Why the signed list cannot be used (never signed, signature, stale), if it cannot."""

    @property
    def agrees(self) -> bool:
        return not self.missing and not self.extra and self.problem is None


def allocate_entry(session: Session) -> int:
    """The status-list index of a new certificate (see the module); commit soon, the counter is locked."""
    _ensure_list(session)
    key = session.scalar(select(StatusListRecord.index_key).where(StatusListRecord.id == STATUS_LIST_ID))
    assert key is not None
    while True:
        index = entry_index(next_value(session, f"status-entry:{STATUS_LIST_ID}") - 1, key)
        if not session.scalar(select(exists().where(IssuedCertificate.status_index == index))):
            return index  # entries of certificates issued before the counter existed are skipped


def lock_status_list(session: Session) -> None:
    """Take the list's row lock until the transaction ends (first, before reading what it covers)."""
    _ensure_list(session)
    session.execute(update(StatusListRecord).where(StatusListRecord.id == STATUS_LIST_ID)
                    .values(revision=StatusListRecord.revision + 1))


def sign_locked_list(session: Session, signing: StatusListSigning, now: datetime) -> str:
    """Sign the list as the certificates table has it now; the caller holds the lock and commits."""
    signer = active_signer(session, signing.seal_settings, signing.exchange_department)
    token = sign_status_list(derived_status_list(session, signing.url), signer, now=now)
    session.execute(update(StatusListRecord).where(StatusListRecord.id == STATUS_LIST_ID)
                    .values(token=token, token_expires_at=now + DEFAULT_VALIDITY))
    return token


def rebuild_status_list(session: Session, signing: StatusListSigning, now: datetime) -> str:
    """Sign the list again from the certificates table, under its lock."""
    lock_status_list(session)
    return sign_locked_list(session, signing, now)


def refresh_status_list(session: Session, signing: StatusListSigning, now: datetime) -> bool:
    """Re-sign the list if it was never signed or expires within `REFRESH_BEFORE_EXPIRY`; whether it did."""
    expires = session.scalar(select(StatusListRecord.token_expires_at).where(StatusListRecord.id == STATUS_LIST_ID))
    if expires is not None and expires - now > REFRESH_BEFORE_EXPIRY:
        return False
    rebuild_status_list(session, signing, now)
    return True


def stored_status_list(session: Session) -> str | None:
    """The signed list as stored (a read; None before it was first signed)."""
    return session.scalar(select(StatusListRecord.token).where(StatusListRecord.id == STATUS_LIST_ID))


def derived_status_list(session: Session, url: str) -> StatusList:
    """The list as the certificates table says it must be: the revoked entries and their reasons."""
    revoked = session.execute(select(IssuedCertificate.status_index, IssuedCertificate.revocation_reason)
                              .where(IssuedCertificate.status == CertificateStatus.REVOKED))
    status_list = StatusList.empty(url)
    bits = bytearray(status_list.bits)
    reasons: dict[int, str] = {}
    for index, reason in revoked:
        bits[index // 8] |= 0x80 >> (index % 8)
        reasons[index] = reason or "unspecified"
    return StatusList(url, bytes(bits), reasons)


def check_status_list(session: Session, trust: TrustStore, url: str, now: datetime) -> StatusListCheck:
    """Compare the stored signed list (its signature checked against `trust`) with the table."""
    revoked = derived_status_list(session, url).revoked_indexes()
    token = stored_status_list(session)
    if token is None:
        return StatusListCheck(len(revoked), tuple(sorted(revoked)), (), "status_list_unsigned")
    try:
        published, problem = read_status_list(token, trust, now=now).revoked_indexes(), None
    except StatusListError as unusable:
        if unusable.code != "status_list_stale":
            return StatusListCheck(len(revoked), tuple(sorted(revoked)), (), unusable.code)
        payload = json.loads(b64url_decode(token.split(".")[1]))  # signature checked above; only its time failed
        published, problem = StatusList.from_claims(payload).revoked_indexes(), unusable.code
    return StatusListCheck(len(revoked), tuple(sorted(revoked - published)), tuple(sorted(published - revoked)),
                           problem)


def _ensure_list(session: Session) -> None:
    session.execute(text("INSERT INTO status_lists (id, index_key, revision) VALUES (:id, :key, 0) "
                         "ON CONFLICT (id) DO NOTHING"), {"id": STATUS_LIST_ID, "key": os.urandom(_KEY_BYTES)})
