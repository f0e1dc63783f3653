"""The city's stored status lists — list 1 for e-certificates, list 2 for e-license versions
(`exchange.licenses`) — which entry a new item gets, and the signed lists verifiers fetch, each
kept equal to the table of what it covers. A `StatusListKind` says which list, its size, and how to
read its set entries from its table.

Allocation: the `n`-th item of a list gets entry `entry_index(n, key)`, `n` coming from the atomic
counter `status-entry:<list>` and `key` being the list's random permutation key: one counter
increment per item, no scan of what is allocated, never the same entry twice.

A signed list is derived, never edited: every signing reads the revoked (or superseded) items
from their table. A revocation first takes the list's row lock (`UPDATE … revision + 1`), then
marks the item and signs the list again in the same transaction, so two revocations at once are
signed one after the other and the second signing sees the first. The jobs process re-signs each
list before it expires (`refresh_status_list`); a GET only reads what is stored.
`check_status_list` compares a signed list with its table; `rebuild_status_list` re-signs it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Integer, LargeBinary, Text, exists, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.orm import Base, UtcDateTime
from exchange.certificate_records import CertificateStatus, IssuedCertificate
from exchange.certificates.status_list import (
    DEFAULT_VALIDITY,
    MIN_ENTRIES,
    StatusList,
    StatusListError,
    entry_index,
    read_status_list,
    sign_status_list,
)
from exchange.counters import next_value
from core.base64url import b64url_decode
from seals.registry import active_signer
from seals.settings import SealSettings
from seals.trust import TrustStore

REFRESH_BEFORE_EXPIRY = timedelta(hours=6)
"""The jobs process re-signs a list that has less than this left."""
STATUS_LIST_PATH = "/api/v1/status-lists/"
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
class StatusListKind:
    """One of the city's status lists: its number, its size, and its table's view of it."""

    list_id: int
    size: int
    set_entries: Callable[[Session], Iterable[tuple[int, str | None]]]
    """(index, reason) of every entry that must be set: the revoked (or superseded) items."""
    in_use: Callable[[Session, int], bool]
    """Whether an item already holds the entry (items allocated before the counter existed)."""


def _revoked_certificates(session: Session) -> Iterable[tuple[int, str | None]]:
    return session.execute(select(IssuedCertificate.status_index, IssuedCertificate.revocation_reason)
                           .where(IssuedCertificate.status == CertificateStatus.REVOKED)).all()


def _certificate_holds(session: Session, index: int) -> bool:
    return bool(session.scalar(select(exists().where(IssuedCertificate.status_index == index))))


CERTIFICATES = StatusListKind(1, MIN_ENTRIES, _revoked_certificates, _certificate_holds)


@dataclass(frozen=True)
class StatusListSigning:
    """What signing a list needs: the seal settings, the exchange's department (whose seal signs)
    and the installation's public URL, under which list N is `…/api/v1/status-lists/N`."""

    seal_settings: SealSettings
    exchange_department: str
    public_url: str
    former_public_urls: tuple[str, ...] = ()
    """Addresses the installation had before (newest first): its lists name them as aliases."""

    def url(self, kind: StatusListKind) -> str:
        return f"{self.public_url}{STATUS_LIST_PATH}{kind.list_id}"

    def aliases(self, kind: StatusListKind) -> tuple[str, ...]:
        return tuple(f"{url}{STATUS_LIST_PATH}{kind.list_id}" for url in self.former_public_urls)


@dataclass(frozen=True)
class StatusListCheck:
    """A signed list compared with its table."""

    set_in_table: int
    missing: tuple[int, ...]
    """Entries set in the table but not in the signed list: revocations verifiers do not see."""
    extra: tuple[int, ...]
    """Entries set in the signed list whose item is not revoked in the table."""
    problem: str | None
    """Why the signed list cannot be used (never signed, signature, stale), if it cannot."""

    @property
    def agrees(self) -> bool:
        return not self.missing and not self.extra and self.problem is None


def allocate_entry(session: Session, kind: StatusListKind) -> int:
    """The status-list index of a new item (see the module); commit soon, the counter is locked."""
    _ensure_list(session, kind)
    key = session.scalar(select(StatusListRecord.index_key).where(StatusListRecord.id == kind.list_id))
    assert key is not None
    while True:
        index = entry_index(next_value(session, f"status-entry:{kind.list_id}") - 1, key, kind.size)
        if not kind.in_use(session, index):
            return index


def lock_status_list(session: Session, kind: StatusListKind) -> None:
    """Take the list's row lock until the transaction ends (first, before reading what it covers)."""
    _ensure_list(session, kind)
    session.execute(update(StatusListRecord).where(StatusListRecord.id == kind.list_id)
                    .values(revision=StatusListRecord.revision + 1))


def sign_locked_list(session: Session, kind: StatusListKind, signing: StatusListSigning, now: datetime) -> str:
    """Sign the list as its table has it now; the caller holds the lock and commits."""
    signer = active_signer(session, signing.seal_settings, signing.exchange_department)
    status_list = replace(derived_status_list(session, kind, signing.url(kind)), aliases=signing.aliases(kind))
    token = sign_status_list(status_list, signer, now=now)
    session.execute(update(StatusListRecord).where(StatusListRecord.id == kind.list_id)
                    .values(token=token, token_expires_at=now + DEFAULT_VALIDITY))
    return token


def rebuild_status_list(session: Session, kind: StatusListKind, signing: StatusListSigning, now: datetime) -> str:
    """Sign the list again from its table, under its lock."""
    lock_status_list(session, kind)
    return sign_locked_list(session, kind, signing, now)


def refresh_status_list(session: Session, kind: StatusListKind, signing: StatusListSigning, now: datetime) -> bool:
    """Re-sign the list if it was never signed, expires within `REFRESH_BEFORE_EXPIRY`, or was signed
    under another public URL (or other former ones) than the installation's now; whether it did."""
    row = session.execute(select(StatusListRecord.token, StatusListRecord.token_expires_at)
                          .where(StatusListRecord.id == kind.list_id)).first()
    if row is not None and row.token is not None and row.token_expires_at - now > REFRESH_BEFORE_EXPIRY \
            and _signed_urls(row.token) == (signing.url(kind), signing.aliases(kind)):
        return False
    rebuild_status_list(session, kind, signing, now)
    return True


def stored_status_list(session: Session, list_id: int) -> str | None:
    """The signed list as stored (a read; None before it was first signed)."""
    return session.scalar(select(StatusListRecord.token).where(StatusListRecord.id == list_id))


def derived_status_list(session: Session, kind: StatusListKind, url: str) -> StatusList:
    """The list as its table says it must be: the set entries and their reasons."""
    status_list = StatusList.empty(url, kind.size)
    bits = bytearray(status_list.bits)
    reasons: dict[int, str] = {}
    for index, reason in kind.set_entries(session):
        bits[index // 8] |= 0x80 >> (index % 8)
        reasons[index] = reason or "unspecified"
    return StatusList(url, bytes(bits), reasons)


def check_status_list(session: Session, kind: StatusListKind, trust: TrustStore, url: str,
                      now: datetime) -> StatusListCheck:
    """Compare the stored signed list (its signature checked against `trust`) with its table."""
    expected = derived_status_list(session, kind, url).revoked_indexes()
    token = stored_status_list(session, kind.list_id)
    if token is None:
        return StatusListCheck(len(expected), tuple(sorted(expected)), (), "status_list_unsigned")
    try:
        published, problem = read_status_list(token, trust, now=now).revoked_indexes(), None
    except StatusListError as unusable:
        if unusable.code != "status_list_stale":
            return StatusListCheck(len(expected), tuple(sorted(expected)), (), unusable.code)
        payload = json.loads(b64url_decode(token.split(".")[1]))  # signature checked above; only its time failed
        published, problem = StatusList.from_claims(payload).revoked_indexes(), unusable.code
    return StatusListCheck(len(expected), tuple(sorted(expected - published)), tuple(sorted(published - expected)),
                           problem)


def _signed_urls(token: str) -> tuple[str | None, tuple[str, ...]]:
    """The `id` (the list's URL) and the aliases a stored token was signed with; the token is our own."""
    claims = json.loads(b64url_decode(token.split(".")[1]))
    return claims.get("id"), tuple(claims.get("alsoKnownAs", ()))


def _ensure_list(session: Session, kind: StatusListKind) -> None:
    session.execute(text("INSERT INTO status_lists (id, index_key, revision) VALUES (:id, :key, 0) "
                         "ON CONFLICT (id) DO NOTHING"), {"id": kind.list_id, "key": os.urandom(_KEY_BYTES)})
