"""The seal registry: the `seal_ca` and `seals` tables and the seal officer's service functions.

Service functions take a SQLAlchemy `Session` and explicit `SealSettings`; they flush but never
commit (the caller owns the transaction). Key files are written before the caller commits, so
a rolled-back issue leaves an unused key file behind, never a row without its key.

Seal lifecycle (`seals.status`): `active` (the one seal a department signs with; at most one
per department, enforced by a partial unique index), `superseded` (replaced by rotation; still
valid until it expires, so signatures made with it stay verifiable), `revoked` (listed on the
CRL with time and reason) and `expired` (past not_after; set when seals are listed or used).
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Connection, Index, Integer, LargeBinary, String, Text, bindparam, func, select, text, update
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.driver_reads import first_row
from core.orm import Base, UtcDateTime, plain_connection
from seals import ca, keys
from seals.errors import (
    CaAlreadyExists,
    CaMissing,
    CrlNotTheRoots,
    SealAlreadyActive,
    NoActiveSeal,
    SealNotFound,
    SealChanged,
    SealRevoked,
)
from seals.settings import SealSettings
from seals.trust import TrustStore

DEFAULT_PURPOSE = "电子证明专用章"
_NO_CA = "no city CA: create one (init-ca) or import one first"
CA_ROW_ID = 1
"""The primary key of the one `seal_ca` row: the claim that makes a second root impossible."""
CRL_REFRESH_MARGIN = timedelta(days=2)
"""A stored CRL is re-signed when it has less than this left before its nextUpdate: a daily
`seal crl` renews it before a day is left."""
CRL_WARNING = timedelta(days=1)
"""Less than this left: the daily `seal crl` did not run (the jobs warn, /metrics shows it)."""
SEAL_WARNING = timedelta(days=60)
"""Less than this left on a department's seal: time to rotate it (`mianzheng seal rotate`), before it
ends and the department signs nothing; the jobs warn, /metrics shows it, `init` says so."""


class SealStatus(str, Enum):
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"
    EXPIRED = "expired"


class SealCa(Base):
    """The city root CA (one row) and its current CRL."""

    __tablename__ = "seal_ca"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(512))
    serial_hex: Mapped[str] = mapped_column(String(40), unique=True)
    certificate_pem: Mapped[str] = mapped_column(Text)
    key_ref: Mapped[str] = mapped_column(String(128))
    not_before: Mapped[datetime] = mapped_column(UtcDateTime())
    not_after: Mapped[datetime] = mapped_column(UtcDateTime())
    crl_number: Mapped[int] = mapped_column(Integer, default=0)
    crl_der: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    crl_next_update: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    @property
    def certificate(self) -> x509.Certificate:
        return _pem_certificate(self.certificate_pem)


class Seal(Base):
    """A department seal: its certificate, key reference and lifecycle status."""

    __tablename__ = "seals"
    __table_args__ = (
        Index(
            "uq_seals_active_department",
            "department_code",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_code: Mapped[str] = mapped_column(String(64), index=True)
    department_name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18))
    purpose_zh: Mapped[str] = mapped_column(String(64))
    serial_hex: Mapped[str] = mapped_column(String(40), unique=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    certificate_pem: Mapped[str] = mapped_column(Text)
    key_ref: Mapped[str] = mapped_column(String(128))
    status: Mapped[SealStatus] = mapped_column(
        SqlEnum(
            SealStatus,
            name="seal_status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda members: [member.value for member in members],
        )
    )
    not_before: Mapped[datetime] = mapped_column(UtcDateTime())
    not_after: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    revocation_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    @property
    def certificate(self) -> x509.Certificate:
        return _pem_certificate(self.certificate_pem)

    def status_at(self, now: datetime) -> SealStatus:
        """The status as of `now`: a seal past its not_after is expired, whether or not a seal
        officer's command has recorded that yet (reading never writes)."""
        if self.status in (SealStatus.ACTIVE, SealStatus.SUPERSEDED) and _lapsed(self.not_after, now):
            return SealStatus.EXPIRED
        return self.status


def _lapsed(not_after: datetime, now: datetime) -> bool:
    """Whether a seal valid until `not_after` has lapsed at `now`."""
    return not_after <= now


def _pem_certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def init_ca(
    session: Session,
    settings: SealSettings,
    *,
    common_name: str = "金华市电子印章根证书",
    organization: str = "金华市数据资源局",
    now: datetime | None = None,
) -> SealCa:
    """Create the city root CA, store its key encrypted and publish an empty CRL."""
    now = now or ca.utc_now()
    return _store_ca(session, settings, ca.create_root(common_name, organization, now=now), now)


def import_ca(session: Session, settings: SealSettings, city_ca: ca.CityCa, *, now: datetime | None = None) -> SealCa:
    """Adopt an existing city root (read and checked by `ca.load_ca_material`), re-encrypting its
    key with ours, and publish an empty CRL."""
    return _store_ca(session, settings, city_ca, now or ca.utc_now())


def issue_seal(
    session: Session,
    settings: SealSettings,
    *,
    department_code: str,
    department_name: str,
    uscc: str,
    purpose_zh: str = DEFAULT_PURPOSE,
    now: datetime | None = None,
) -> Seal:
    """Issue the first seal of a department; a department with an active seal is rotated instead."""
    now = now or ca.utc_now()
    _expire_lapsed(session, now)
    if _find_active(session, department_code) is not None:
        raise SealAlreadyActive(f"department {department_code} has an active seal; rotate it instead")
    return _issue(session, settings, department_code, department_name, uscc, purpose_zh, now)


def rotate_seal(session: Session, settings: SealSettings, department_code: str, *,
                named: tuple[str, str] | None = None, now: datetime | None = None) -> Seal:
    """Issue a new seal (new key) for the department; the old one becomes `superseded`. The new
    one names the department as `named` says (legal name, credit code: the live catalog's, after
    a rename), else as the old one did.

    The old certificate is not revoked: it stays valid until it expires, so documents signed
    with it keep verifying, and the validity periods overlap.
    """
    now = now or ca.utc_now()
    current = active_seal(session, department_code, now=now)
    _lock_unchanged(session, current)
    current.status = SealStatus.SUPERSEDED
    session.flush()
    name, uscc = named or (current.department_name, current.uscc)
    return _issue(session, settings, department_code, name, uscc, current.purpose_zh, now)


def seals_named_otherwise(database: Session | Connection, names: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The departments whose active seal names them otherwise than `names` does (code -> legal
    name and credit code: the live catalog's): code -> the seal's name and credit code. After a
    rename the seal still names the old one, so a PDF reader shows it on what the new name issues,
    until `rotate_seal` with the new one."""
    rows = plain_connection(database).execute(select(Seal.department_code, Seal.department_name, Seal.uscc)
                                              .where(Seal.status == SealStatus.ACTIVE))
    return {row.department_code: (row.department_name, row.uscc) for row in rows
            if row.department_code in names and names[row.department_code] != (row.department_name, row.uscc)}


def rotate_seals_to_crl_url(session: Session, settings: SealSettings, names: Mapping[str, tuple[str, str]], *,
                            now: datetime | None = None) -> list[str]:
    """Rotate (`rotate_seal`) every active seal whose certificate names another CRL URL than
    `settings.crl_url`, as after the installation's public address changed, naming each
    department as `names` does (the live catalog's, when it has it); the departments rotated, in
    order. Documents signed before keep verifying under the superseded seals."""
    now = now or ca.utc_now()
    _expire_lapsed(session, now)
    stale = session.scalars(select(Seal).where(Seal.status == SealStatus.ACTIVE).order_by(Seal.department_code))
    departments = [seal.department_code for seal in stale if ca.crl_urls(seal.certificate) != [settings.crl_url]]
    for department in departments:
        rotate_seal(session, settings, department, named=names.get(department), now=now)
    return departments


def revoke_seal(
    session: Session,
    settings: SealSettings,
    department_code: str,
    reason: ca.RevocationReason,
    *,
    serial_hex: str | None = None,
    now: datetime | None = None,
) -> Seal:
    """Revoke the department's active seal (or the one with `serial_hex`) and re-sign the CRL.
    The revocation time is taken once the department's signing steps have let go of its seals
    (`held_signer`, `hold_signing_seal`), and is the next whole second: what a step signs with
    the seal is stored before it, with a signing time before it, or refused."""
    if serial_hex is None:
        seal = active_seal(session, department_code, now=now)
    else:
        seal = session.scalars(
            select(Seal).where(Seal.department_code == department_code, Seal.serial_hex == serial_hex)
        ).one_or_none()
        if seal is None:
            raise SealNotFound(f"department {department_code} has no seal with serial {serial_hex}")
        if seal.status is SealStatus.REVOKED:
            raise SealRevoked(f"seal {serial_hex} is revoked already")
    _lock_unchanged(session, seal)
    _wait_for_signers(session, seal.department_code)
    now = now or _next_whole_second()
    seal.status = SealStatus.REVOKED
    seal.revoked_at = now
    seal.revocation_reason = reason.value
    session.flush()
    _resign_crl(session, settings, now)
    return seal


def _next_whole_second() -> datetime:
    """The start of the next whole second, waited for. Signing times are whole seconds and a
    signature made at or after a seal's revocation time is revoked: what was signed and stored
    before the revocation took the seal's lock, in the same second, must stay valid."""
    moment = datetime.now(timezone.utc)
    time.sleep(1 - moment.microsecond / 1_000_000)
    return ca.utc_now()


def held_signer(session: Session, settings: SealSettings, department_code: str) -> keys.FileKeySigner:
    """`active_signer`, for the caller's write step to sign with and store what it signed: the
    department's seals are held to the end of the step (`_hold_seals`), so a revocation either
    committed before the seal was read here, and the step gets `NoActiveSeal`, or waits for the
    step and takes its time after it (`revoke_seal`)."""
    _hold_seals(session, department_code)
    return active_signer(session, settings, department_code)


def hold_signing_seal(session: Session, signer: keys.FileKeySigner, department_code: str) -> None:
    """As `held_signer`, for a signature made outside the step that stores it (a certificate's
    PDF): in that step, before it stores what `signer` signed, the department's seals are held
    and the seal is checked to be neither revoked nor lapsed; `NoActiveSeal` otherwise."""
    _hold_seals(session, department_code)
    serial = format(signer.certificate_chain[0].serial_number, "x")
    held = session.execute(_HELD_SEAL, {"serial": serial}).one_or_none()
    if held is None or held.status is SealStatus.REVOKED or _lapsed(held.not_after, ca.utc_now()) \
            or _on_stored_crl(held.crl_der, serial):
        raise NoActiveSeal(f"seal {serial} was revoked or lapsed while signing; sign again with the active seal")


def _hold_seals(session: Session, department_code: str) -> None:
    """Keep a revocation of the department's seals waiting to the end of the caller's write step:
    on PostgreSQL a shared advisory lock of the department (`revoke_seal` takes it exclusively),
    taken before the seal is read, so the read, a statement of its own, sees any revocation
    committed before; SQLite's write step holds the whole database already. (A share lock of the
    seal's row would do the same, but every concurrent step would write a multixact to that one
    row.)"""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_HOLD_SEALS, {"space": SEAL_LOCK_SPACE, "department": _lock_number(department_code)})


def _wait_for_signers(session: Session, department_code: str) -> None:
    """Wait for the department's steps holding its seals (`_hold_seals`) to end, and keep new ones
    waiting to the end of the caller's transaction (PostgreSQL; on SQLite the caller's write
    step holds the database)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_EXCLUDE_SIGNERS, {"space": SEAL_LOCK_SPACE, "department": _lock_number(department_code)})


def _lock_number(department_code: str) -> int:
    """The department's advisory lock number (two departments sharing one only wait for each other)."""
    return int.from_bytes(hashlib.sha256(department_code.encode("utf-8")).digest()[:4], "big", signed=True)


def _lock_unchanged(session: Session, seal: Seal) -> None:
    """Lock the seal's row for the rest of the caller's transaction if its status is still the one
    read (a compare-and-set): of two seal officers' commands on one seal at once, the second
    finds it changed and changes nothing, rather than writing over the first (a revocation
    turned back into `superseded` would drop the seal from every CRL signed after it)."""
    read = seal.status
    if session.execute(update(Seal).where(Seal.id == seal.id, Seal.status == read).values(status=read)).rowcount == 1:
        return
    now_status = session.scalars(select(Seal.status).where(Seal.id == seal.id)).one()
    if now_status is SealStatus.REVOKED:
        raise SealRevoked(f"seal {seal.serial_hex} was revoked meanwhile")
    raise SealChanged(f"seal {seal.serial_hex} became {now_status.value} meanwhile")


def list_seals(session: Session, department_code: str | None = None) -> list[Seal]:
    """Every seal (or a department's), newest first (a read: `Seal.status_at` says which have lapsed)."""
    query = select(Seal).order_by(Seal.department_code, Seal.created_at.desc(), Seal.id.desc())
    if department_code is not None:
        query = query.where(Seal.department_code == department_code)
    return list(session.scalars(query))


def active_seal(session: Session, department_code: str, *, now: datetime | None = None) -> Seal:
    """The seal the department signs with now; `SealNotFound` if it has none."""
    now = now or ca.utc_now()
    seal = _find_active(session, department_code)
    if seal is not None and seal.status_at(now) is SealStatus.EXPIRED:
        seal = None  # lapsed; the seal officer's next command records it
    if seal is None:
        raise SealNotFound(f"department {department_code} has no active seal")
    return seal


def active_signer(session: Session, settings: SealSettings, department_code: str) -> keys.FileKeySigner:
    """A `Signer` for the department's active seal (its key is loaded through the key cache);
    `NoActiveSeal` if it has none.

    The seal's row is read every time (one plain row on the session's connection), so a revoked,
    superseded or lapsed seal is never used, from the next signature on; the signer itself is built
    once per process for each seal (by its serial, never reused by another seal) and key (the key
    cache's, which re-reads a replaced key file)."""
    seal = plain_connection(session).execute(_ACTIVE_SEAL, {"department": department_code}).one_or_none()
    if seal is None or _lapsed(seal.not_after, ca.utc_now()):
        raise NoActiveSeal(f"department {department_code} has no active seal to sign with")
    if _on_stored_crl(seal.crl_der, seal.serial_hex):
        raise NoActiveSeal(f"seal {seal.serial_hex} of department {department_code} is active in its row but listed "
                           "on the CRL (set back beside the seal officer's commands): it signs nothing")
    key = keys.load_key(settings.key_dir, seal.key_ref, settings.passphrase)
    signer = _signers.get(seal.serial_hex)
    if signer is None or signer.private_key is not key:
        chain = (_pem_certificate(session.scalars(select(Seal.certificate_pem).where(Seal.id == seal.id)).one()),
                 _ca_row(session).certificate)
        if len(_signers) >= _SIGNERS_KEPT:
            _signers.clear()
        signer = _signers[seal.serial_hex] = keys.FileKeySigner(key, chain)
    return signer


def _on_stored_crl(crl_der: bytes | None, serial_hex: str) -> bool:
    """Whether the stored CRL lists the seal: every verifier then refuses what it signs, so it
    signs nothing, whatever its row says (a revocation set back beside the seal officer's
    commands). The CRL's signature is not checked here: a CRL that lists more than the root's
    only refuses signatures, and one that lists less fails every verifier's check of it."""
    return crl_der is not None and int(serial_hex, 16) in _listed_serials(bytes(crl_der))


@functools.lru_cache(maxsize=4)
def _listed_serials(crl_der: bytes) -> frozenset[int]:
    """The serial numbers a CRL lists, parsed once per process for each CRL (by its content)."""
    return frozenset(entry.serial_number for entry in x509.load_der_x509_crl(crl_der))


_SEALS = Seal.__table__
_STORED_CRL = select(SealCa.__table__.c.crl_der).limit(1).scalar_subquery()
_ACTIVE_SEAL = select(_SEALS.c.id, _SEALS.c.serial_hex, _SEALS.c.key_ref, _SEALS.c.not_after,
                      _STORED_CRL.label("crl_der")).where(
    _SEALS.c.department_code == bindparam("department"), _SEALS.c.status == SealStatus.ACTIVE)
"""What `active_signer` reads of the department's active seal on every signature, with the CRL."""
_HELD_SEAL = select(_SEALS.c.status, _SEALS.c.not_after, _STORED_CRL.label("crl_der")).where(
    _SEALS.c.serial_hex == bindparam("serial"))
"""What `hold_signing_seal` reads of the seal it holds, with the CRL."""
SEAL_LOCK_SPACE = int.from_bytes(hashlib.sha256(b"mianzheng.seals").digest()[:4], "big", signed=True)
"""The first key of the departments' seal locks (PostgreSQL advisory locks of two keys)."""
_HOLD_SEALS = text("SELECT pg_advisory_xact_lock_shared(:space, :department)")
_EXCLUDE_SIGNERS = text("SELECT pg_advisory_xact_lock(:space, :department)")
_SIGNERS_KEPT = 64
_signers: dict[str, keys.FileKeySigner] = {}
"""Seal serial -> the signer of that seal, with its parsed chain (seal certificate, root): the
certificates of a seal never change, and its key is checked against the key cache on every use."""


def current_crl(session: Session) -> x509.CertificateRevocationList | None:
    """The published CRL as stored (a read: only the seal officer's commands sign CRLs)."""
    der = _ca_row(session).crl_der
    return x509.load_der_x509_crl(der) if der is not None else None


def seal_ends(database: Session | Connection) -> dict[str, datetime]:
    """When each department's seal ends, by department code: the latest notAfter of its active and
    lapsed seals (a department whose seal lapsed is listed, in the past, until a new one is
    issued); for a department left with none, when its last seal was revoked (it signs nothing
    from then on, as one whose seal lapsed)."""
    ends: dict[str, datetime] = dict(database.execute(  # type: ignore[arg-type]
        select(Seal.department_code, func.max(Seal.not_after))
        .where(Seal.status.in_([SealStatus.ACTIVE, SealStatus.EXPIRED])).group_by(Seal.department_code)).all())
    revoked = database.execute(select(Seal.department_code, func.max(Seal.revoked_at))
                               .where(Seal.status == SealStatus.REVOKED).group_by(Seal.department_code))
    return ends | {code: when for code, when in revoked if code not in ends}


def seals_ending(database: Session | Connection, now: datetime) -> dict[str, datetime]:
    """`seal_ends` of the departments with less than `SEAL_WARNING` left (or none)."""
    return {code: ends for code, ends in seal_ends(database).items() if ends - now < SEAL_WARNING}


def crl_next_update(database: Session | Connection) -> datetime | None:
    """When the stored CRL expires (its nextUpdate), or None before the first."""
    return database.execute(select(SealCa.crl_next_update).where(SealCa.id == CA_ROW_ID)).scalar_one_or_none()


def refresh_crl(session: Session, settings: SealSettings, *, now: datetime | None = None, force: bool = False) -> bool:
    """Sign the CRL again when it has less than `CRL_REFRESH_MARGIN` left (or `force`); whether it
    did. Loads the root key: for the seal officer's commands only, never a server process."""
    now = now or ca.utc_now()
    row = _ca_row(session)
    if not force and row.crl_next_update is not None and row.crl_next_update - now >= CRL_REFRESH_MARGIN:
        return False
    _resign_crl(session, settings, now)
    return True


def trust_store(database: Session | Connection) -> TrustStore:
    """The trust material to publish: root, every seal certificate ever issued, the stored CRL.

    Checked against the database every time (one statement), so a new seal or a revocation (a
    new CRL) is seen at once by every process; parsed once per process and version. The version
    is the root's serial, the SHA-256 of the stored CRL, and the number and newest serial of the
    seal certificates (rows that are only ever added, never changed). Plain rows only: a session
    or a bare connection will do."""
    connection = plain_connection(database)
    return trust_store_of_version(connection, first_row(connection, _TRUST_VERSION))


def trust_store_of_version(database: Session | Connection, version: Sequence[Any] | None) -> TrustStore:
    """`trust_store` for a version read by the caller: a row that starts with `TRUST_VERSION`'s
    columns (a statement of the caller's may read more beside them, in the same round trip);
    None when there was no row (no CA). The certificates are read only for a version this process
    has not parsed yet."""
    if version is None:
        raise CaMissing(_NO_CA)
    root_serial, crl_der, seal_count, newest = version[:len(TRUST_VERSION)]
    connection = plain_connection(database)
    key = (root_serial, hashlib.sha256(crl_der or b"").hexdigest(), seal_count, newest)
    store = _trust_stores.get(key)
    if store is None:
        root = connection.scalar(select(SealCa.certificate_pem).limit(1))
        seals = connection.scalars(select(Seal.certificate_pem).order_by(Seal.id))
        store = TrustStore(_pem_certificate(root), tuple(_pem_certificate(pem) for pem in seals),
                           x509.load_der_x509_crl(crl_der) if crl_der is not None else None)
        if len(_trust_stores) >= _TRUST_STORES_KEPT:
            _trust_stores.clear()
        _trust_stores[key] = store
    return store


TRUST_VERSION = (SealCa.serial_hex, SealCa.crl_der, select(func.count(Seal.id)).scalar_subquery(),
                 select(Seal.serial_hex).order_by(Seal.id.desc()).limit(1).scalar_subquery())
"""The columns of the trust material's version (see `trust_store`), read from `seal_ca`."""
_TRUST_VERSION = select(*TRUST_VERSION).limit(1)
"""`trust_store`'s statement, built once: it is read on every verification."""
_TRUST_STORES_KEPT = 8
_trust_stores: dict[tuple[str, str, int, str | None], TrustStore] = {}
"""Version of the trust material in the database (see `trust_store`) -> the store parsed from it,
with the memos it builds (the CRL's signature check, the kid index)."""


def load_ca(session: Session, settings: SealSettings) -> ca.CityCa:
    """The city CA with its private key, for issuing outside the registry (e.g. an HSM-held seal key)."""
    row = _ca_row(session)
    return ca.CityCa(row.certificate, keys.load_key(settings.key_dir, row.key_ref, settings.passphrase))


def _store_ca(session: Session, settings: SealSettings, city_ca: ca.CityCa, now: datetime) -> SealCa:
    """Store the root as the one `seal_ca` row. The row claims `CA_ROW_ID`, so of two runs that
    both found no root, the second's insert fails on the primary key instead of adding a second
    trust anchor; its key file is written only once the claim holds."""
    if session.scalars(select(SealCa)).first() is not None:
        raise CaAlreadyExists("a city CA exists already")
    certificate = city_ca.certificate
    serial_hex = format(certificate.serial_number, "x")
    key_ref = f"city-root-{serial_hex[:16]}.key"
    row = SealCa(
        id=CA_ROW_ID,
        subject=certificate.subject.rfc4514_string(),
        serial_hex=serial_hex,
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        key_ref=key_ref,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        crl_number=0,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise CaAlreadyExists("a city CA was stored by another run") from None
    keys.write_key(settings.key_dir, key_ref, city_ca.private_key, settings.passphrase)
    _resign_crl(session, settings, now)
    return row


def _issue(
    session: Session,
    settings: SealSettings,
    department_code: str,
    department_name: str,
    uscc: str,
    purpose_zh: str,
    now: datetime,
) -> Seal:
    city_ca = load_ca(session, settings)
    private_key = ca.generate_key()
    certificate = ca.issue_seal_certificate(
        city_ca,
        private_key.public_key(),
        department_name=department_name,
        uscc=uscc,
        crl_url=settings.crl_url,
        validity=timedelta(days=settings.seal_validity_days),
        now=now,
    )
    serial_hex = format(certificate.serial_number, "x")
    key_ref = f"seal-{serial_hex[:16]}.key"
    seal = Seal(
        department_code=department_code,
        department_name=department_name,
        uscc=uscc,
        purpose_zh=purpose_zh,
        serial_hex=serial_hex,
        kid=ca.certificate_kid(certificate),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        key_ref=key_ref,
        status=SealStatus.ACTIVE,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        created_at=now,
    )
    session.add(seal)
    try:  # the row first: of two issues at once, the one that loses the active seal writes no key
        session.flush()
    except IntegrityError:
        raise SealAlreadyActive(f"department {department_code} got an active seal meanwhile; rotate it instead") from None
    keys.write_key(settings.key_dir, key_ref, private_key, settings.passphrase)
    return seal


def _published_revocations(crl_der: bytes | None, authority: ca.CityCa) -> list[ca.RevokedEntry]:
    """The entries of the CRL the root signed before: a revocation once published stays in every
    later CRL, whatever the seals' rows say now (a row set back to active drops nobody). A stored
    CRL the root did not sign is refused: it would decide what the next one leaves out."""
    if crl_der is None:
        return []
    crl = x509.load_der_x509_crl(crl_der)
    if not crl.is_signature_valid(authority.certificate.public_key()):
        raise CrlNotTheRoots("the stored CRL is not signed by the city root: restore it from a backup first")
    return [ca.RevokedEntry(entry.serial_number, entry.revocation_date_utc, ca.RevocationReason.of_entry(entry))
            for entry in crl]


def _resign_crl(session: Session, settings: SealSettings, now: datetime) -> None:
    row = _ca_row(session)
    # First the CA row's lock, with an atomic increment (two officers at once get two numbers), then
    # the revoked seals: read after the lock, they include those of an officer who signed before,
    # so the CRL with the higher number lists every seal revoked until then.
    crl_number = session.execute(
        update(SealCa).where(SealCa.id == row.id).values(crl_number=SealCa.crl_number + 1)
        .returning(SealCa.crl_number)).scalar_one()
    # by the revocation's own columns, whatever the status says (a row's status set back drops nobody)
    revoked = session.scalars(select(Seal).where(Seal.revoked_at.is_not(None), Seal.revocation_reason.is_not(None))
                              .order_by(Seal.id).execution_options(populate_existing=True))  # as committed
    entries = [
        ca.RevokedEntry(int(seal.serial_hex, 16), seal.revoked_at, ca.RevocationReason(seal.revocation_reason))
        for seal in revoked
        if seal.revoked_at is not None and seal.revocation_reason is not None
    ]
    authority = load_ca(session, settings)
    listed = {entry.serial_number for entry in entries}
    entries += [entry for entry in _published_revocations(row.crl_der, authority) if entry.serial_number not in listed]
    crl = ca.build_crl(
        authority,
        entries,
        crl_number=crl_number,
        validity=timedelta(days=settings.crl_validity_days),
        now=now,
    )
    row.crl_der = crl.public_bytes(serialization.Encoding.DER)
    row.crl_next_update = crl.next_update_utc
    session.flush()


def _ca_row(session: Session) -> SealCa:
    row = session.scalars(select(SealCa)).first()
    if row is None:
        raise CaMissing(_NO_CA)
    return row


def _find_active(session: Session, department_code: str) -> Seal | None:
    return session.scalars(
        select(Seal).where(Seal.department_code == department_code, Seal.status == SealStatus.ACTIVE)
    ).one_or_none()


def _expire_lapsed(session: Session, now: datetime) -> None:
    """Record lapsed seals as expired (the seal officer's commands, before issuing)."""
    lapsed = select(Seal.id).where(Seal.status.in_([SealStatus.ACTIVE, SealStatus.SUPERSEDED]),
                                   Seal.not_after <= now).limit(1)
    if session.scalar(lapsed) is None:
        return
    session.execute(
        update(Seal)
        .where(Seal.status.in_([SealStatus.ACTIVE, SealStatus.SUPERSEDED]), Seal.not_after <= now)
        .values(status=SealStatus.EXPIRED)
        .execution_options(synchronize_session="fetch")
    )
