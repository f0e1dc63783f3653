"""Consumer systems: the department systems (a housing bureau's caseworker system, ...) that
call the exchange, and their credentials.

A client belongs to one catalog department and holds scopes (`ClientScope`). Its credential
is a bearer token `mzc_<public id>_<secret>`: the public id (16 hex characters) names the
client, the secret is 32 random bytes (base64url). The token is returned once, when the
client is registered or rotated; the database keeps only SHA-256 of the secret. A fast
unsalted hash is right here because the secret is high-entropy (256 bits): nothing can be
guessed, and a slow password hash would cost every request. Hashes are compared in constant
time.

Rotation issues a new secret at once. By default the old one stops working immediately; an
operator can grant it a grace period (at most `MAX_ROTATION_GRACE`) so that a department can
deploy the new token without an outage. Revocation ends every secret of the client at once
and for good.

The access log's chain is what authentication trusts, not the client's row: every registration,
rotation and revocation is an entry of it, in the transaction that makes it. A registration's or
rotation's entry records the client's department and its credentials (`credentials_detail`: its
scopes and the hash of each secret that works), and a token is taken only as the newest such entry
has them, and only if no entry records the client's revocation. A row edited beside the chain (a
secret of someone's own, wider scopes, another department, a revocation set back) changes nothing
a token can do; `mianzheng audit verify` names it (`clients_unlike_chain`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Connection, Integer, Select, String, bindparam, case, exists, func, literal, or_, select
from sqlalchemy.orm import Mapped, Session, column_property, mapped_column

from catalog.model import Catalog
from core.base64url import b64url_encode
from core.canonical import canonical_json
from core.orm import Base, UtcDateTime, plain_connection
from exchange.access_log import AccessRecord, operation_entries
from exchange.errors import ExchangeError, InvalidInput, NotFound, UnknownCode
from exchange.operation_codes import Operation
from exchange.operations import Actor, record_operation

TOKEN_PREFIX = "mzc"
PUBLIC_ID_HEX = 16
SECRET_BYTES = 32
MAX_NAME_LENGTH = 200
MAX_ROTATION_GRACE = timedelta(hours=24)
_PUBLIC_ID = re.compile(rf"[0-9a-f]{{{PUBLIC_ID_HEX}}}")
_MAX_SECRET_CHARS = 128


class ClientScope(StrEnum):
    """What a client may do. Scopes are checked by the HTTP edge before any use case runs."""

    EXCHANGE_REQUEST = "exchange:request"
    """Ask the exchange for a citizen's proof data (`POST /api/v1/exchange/requests`)."""
    APPLICATIONS_WRITE = "applications:write"
    """Open and update applications for a matter (the matter handlers)."""
    CERTIFICATES_REVOKE = "certificates:revoke"
    """Revoke e-certificates issued by the client's own department."""
    LICENSES_WRITE = "licenses:write"
    """Issue, amend and revoke e-licenses of the types the client's own department issues."""
    CATALOG_ADMIN = "catalog:admin"
    """The catalog administrator's tools over HTTP: validate a catalog document before publishing it."""


DEFAULT_SCOPES = (ClientScope.EXCHANGE_REQUEST,)


class InvalidCredentials(ExchangeError):
    """The token is malformed, unknown, revoked or replaced. Deliberately says no more."""


class ClientNotFound(NotFound):
    """No client has this public id."""


class ClientRevoked(ExchangeError):
    """The client was revoked; it cannot be rotated or used again."""


class ClientRecord(Base):
    """A registered consumer system. Only hashes of its secrets are stored."""

    __tablename__ = "exchange_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_HEX), unique=True)
    department_code: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    scopes: Mapped[str] = mapped_column(String(255))
    """Space-separated, as in OAuth 2.0."""
    secret_hash: Mapped[str] = mapped_column(String(64))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    @property
    def scope_list(self) -> tuple[str, ...]:
        return tuple(self.scopes.split())

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class AuthenticatedClient:
    """Who is calling: the client's public id, department, name and scopes."""

    client_id: str
    department_code: str
    name: str
    scopes: frozenset[str]
    secret_hash: str | None = field(default=None, repr=False)
    """The hash of the secret it presented (`authenticate`); None for work done in its name
    without a token (an application's later rounds)."""

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


def register_client(
    session: Session,
    catalog: Catalog,
    department_code: str,
    name: str,
    scopes: Collection[str] = DEFAULT_SCOPES,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> tuple[ClientRecord, str]:
    """Register a consumer system of `department_code`; returns it and its token (shown once).
    Its registration by `actor` (None: code running with no operator, such as a benchmark) is an
    entry of the access log's chain, without which no token of it is taken (`authenticate`)."""
    if department_code not in catalog.departments:
        raise UnknownCode("department", f"the live catalog has no department {department_code!r}")
    clean_name = name.strip()
    if not clean_name or len(clean_name) > MAX_NAME_LENGTH:
        raise InvalidInput("name", f"must have 1 to {MAX_NAME_LENGTH} characters")
    secret = _new_secret()
    record = ClientRecord(
        public_id=secrets.token_hex(PUBLIC_ID_HEX // 2),
        department_code=department_code,
        name=clean_name,
        scopes=" ".join(_valid_scopes(scopes)),
        secret_hash=_hash(secret),
        created_at=now or _now(),
    )
    session.add(record)
    session.flush()
    record_operation(session, Operation.CLIENT_ADDED, actor or Actor(), record.public_id, department=department_code,
                     detail=credentials_detail(record))
    return record, _token(record.public_id, secret)


class Credentials(Protocol):
    """What a client's row holds of its credentials (a `ClientRecord`, or a plain row of its table)."""

    scopes: str
    secret_hash: str
    previous_secret_hash: str | None
    previous_secret_expires_at: datetime | None


def credentials_detail(client: Credentials) -> str:
    """What a registration's or rotation's entry records of the client's credentials, as canonical
    JSON: its scopes, the SHA-256 of its secret, and of the secret it replaced with the end of that
    one's grace (null without). The hashes are base64url: 64 hex characters can hold a run of 18
    digits, which the log masks as an ID number would be."""
    previous_until = client.previous_secret_expires_at
    return canonical_json({
        "scopes": client.scopes, "secret_sha256": _b64(client.secret_hash),
        "previous_secret_sha256": _b64(client.previous_secret_hash) if client.previous_secret_hash else None,
        "previous_until": previous_until.astimezone(timezone.utc).isoformat() if previous_until else None,
    }).decode("utf-8")


def authenticate(database: Session | Connection, token: str, *, now: datetime | None = None) -> AuthenticatedClient:
    """The client that `token` belongs to, with the department and scopes the access log's chain
    records for it; `InvalidCredentials` otherwise. Its row and entries are read on every call (a
    session's connection or a bare one will do), so a revocation or a rotation counts from the
    next request. The secret must be one the newest registration or rotation entry records; a
    revocation the chain records counts whatever the row says now, and a client the chain does not
    record is none."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not _PUBLIC_ID.fullmatch(parts[1]) \
            or not 0 < len(parts[2]) <= _MAX_SECRET_CHARS:
        raise InvalidCredentials("malformed client token")
    presented = _hash(parts[2])
    record = plain_connection(database).execute(_CREDENTIALS, {"public_id": parts[1]}).first()
    chained = _chained(record.credentials) if record is not None else None
    if record is None or chained is None or record.revoked_at is not None or record.revoked_in_chain \
            or not _secret_matches(chained, presented, now or _now()):
        raise InvalidCredentials("unknown, revoked or replaced client token")
    return AuthenticatedClient(
        client_id=record.public_id,
        department_code=record.department_code,
        name=record.name,
        scopes=frozenset(chained["scopes"].split()),
        secret_hash=presented,
    )


def clients_unlike_chain(session: Session) -> set[str]:
    """The department systems (public ids) the chain does not record as their rows hold them: no
    registration's entry, or a department or credentials other than its newest entry's (a row
    edited beside the chain). Revoked ones count only if their row says they are not: for the
    auditor, and the operator's list."""
    rows = session.execute(select(*_CLIENTS.c, _REVOKED_IN_CHAIN.label("revoked_in_chain"),
                                  _CHAINED.c.consumer_department.label("chained_department"),
                                  _CHAINED.c.purpose.label("credentials")).select_from(_WITH_NEWEST_CREDENTIALS))
    return {row.public_id for row in rows if row.credentials is None or (
        row.revoked_at is None and not row.revoked_in_chain
        and (row.chained_department, row.credentials) != (row.department_code, credentials_detail(row)))}


_CLIENTS = ClientRecord.__table__
_LOG = AccessRecord.__table__
_REVOKED_IN_CHAIN = exists().where(operation_entries(), _LOG.c.reason == Operation.CLIENT_REVOKED.value,
                                   _LOG.c.case_number == _CLIENTS.c.public_id)
"""Whether the access log's chain records the client's revocation: it is revoked for good,
whatever its row says (`revoked_at` set back by hand)."""
ClientRecord.revoked_in_chain = column_property(_REVOKED_IN_CHAIN)  # type: ignore[attr-defined]
"""Loaded with every client read: a rotation refuses it, and the operator's list says it."""
CREDENTIAL_OPERATIONS = (Operation.CLIENT_ADDED, Operation.CLIENT_ROTATED, Operation.CLIENT_CREDENTIALS_CHAINED)
"""The entries that record a client's credentials (`credentials_detail`); the newest counts."""
_CHAINED = _LOG.alias("chained")
_WITH_NEWEST_CREDENTIALS = _CLIENTS.outerjoin(_CHAINED, _CHAINED.c.seq == select(func.max(_LOG.c.seq)).where(
    operation_entries(), _LOG.c.reason.in_([literal(operation.value) for operation in CREDENTIAL_OPERATIONS]),
    _LOG.c.case_number == _CLIENTS.c.public_id).scalar_subquery())
"""Each client with the newest entry that records its credentials (none: a row added beside the chain)."""
_CREDENTIALS = select(_CLIENTS.c.public_id, _CLIENTS.c.name, _CLIENTS.c.revoked_at,
                      _REVOKED_IN_CHAIN.label("revoked_in_chain"),
                      _CHAINED.c.consumer_department.label("department_code"),
                      _CHAINED.c.purpose.label("credentials")).select_from(_WITH_NEWEST_CREDENTIALS).where(
    _CLIENTS.c.public_id == bindparam("public_id"))
"""What `authenticate` reads of a client, as a plain row: its department and credentials as the
chain records them."""


CHAINED_UNLESS_REVOKED: Select[tuple[str, str | None]] = select(_CLIENTS.c.public_id, case(
    (or_(_CLIENTS.c.revoked_at.is_not(None), _REVOKED_IN_CHAIN), None), else_=_CHAINED.c.purpose)).select_from(
    _WITH_NEWEST_CREDENTIALS).where(_CLIENTS.c.public_id == bindparam("client_id"))
"""The client `client_id` with the credentials its newest entry records; null if it is revoked
(by its row or the chain) or the chain records no registration of it. Built once, for a plain
read (`cut_off`)."""


def cut_off(found: str | None, presented: str, at: datetime) -> bool:
    """Whether a client authenticated before is no longer, `at`, as `authenticate` would find:
    `found` is what `CHAINED_UNLESS_REVOKED` read of it (None: revoked, unregistered or no row),
    `presented` the hash of the secret it presented ("" to leave it unchecked), which must still
    work by the chain's entry (not replaced by a rotation whose grace is over), whatever its row
    says now."""
    chained = _chained(found)
    return chained is None or (presented != "" and not _secret_matches(chained, presented, at))


def rotate_client(
    session: Session, public_id: str, *, grace: timedelta = timedelta(0), actor: Actor | None = None,
    now: datetime | None = None
) -> tuple[ClientRecord, str]:
    """Give the client a new secret; the old one works for `grace` more (default: not at all),
    to the second. The rotation by `actor` (None: code running with no operator) is an entry of
    the chain recording the new credentials (`authenticate` takes them from there)."""
    if not timedelta(0) <= grace <= MAX_ROTATION_GRACE:
        raise InvalidInput("grace", f"must be between 0 and {MAX_ROTATION_GRACE}")
    record = get_client(session, public_id, for_update=True)
    if not record.active or record.revoked_in_chain:  # type: ignore[attr-defined]
        raise ClientRevoked(f"client {public_id} is revoked")
    at = now or _now()
    secret = _new_secret()
    record.previous_secret_hash = record.secret_hash if grace else None
    record.previous_secret_expires_at = (at + grace).replace(microsecond=0) if grace else None
    record.secret_hash = _hash(secret)
    record.rotated_at = at
    session.flush()
    record_operation(session, Operation.CLIENT_ROTATED, actor or Actor(), record.public_id,
                     department=record.department_code, detail=credentials_detail(record))
    return record, _token(record.public_id, secret)


def revoke_client(session: Session, public_id: str, *, now: datetime | None = None) -> ClientRecord:
    """End every secret of the client for good; revoking a revoked client changes nothing."""
    record = get_client(session, public_id, for_update=True)
    if record.active:
        record.revoked_at = now or _now()
        record.previous_secret_hash = None
        record.previous_secret_expires_at = None
        session.flush()
    return record


def get_client(session: Session, public_id: str, *, for_update: bool = False) -> ClientRecord:
    """The client `public_id`; `for_update`: with its row lock until the transaction ends, for a
    change that depends on what it replaces (a rotation keeps the secret it replaces)."""
    query = select(ClientRecord).where(ClientRecord.public_id == public_id)
    record = session.scalars(query.with_for_update() if for_update else query).first()
    if record is None:
        raise ClientNotFound(f"no client {public_id!r}")
    return record


def list_clients(session: Session) -> list[ClientRecord]:
    """Every client, by department then registration."""
    return list(session.scalars(select(ClientRecord).order_by(ClientRecord.department_code, ClientRecord.id)))


def clients_by_public_id(session: Session, public_ids: Iterable[str]) -> dict[str, ClientRecord]:
    """The clients among `public_ids` (unknown ids are left out)."""
    wanted = set(public_ids)
    if not wanted:
        return {}
    records = session.scalars(select(ClientRecord).where(ClientRecord.public_id.in_(wanted)))
    return {record.public_id: record for record in records}


def _valid_scopes(scopes: Collection[str]) -> list[str]:
    known = {scope.value for scope in ClientScope}
    unknown = sorted(set(scopes) - known)
    if unknown:
        raise InvalidInput("scopes", f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if not scopes:
        raise InvalidInput("scopes", "a client needs at least one scope")
    return sorted(set(scopes))


def _chained(detail: str | None) -> dict[str, Any] | None:
    """The credentials an entry records (`credentials_detail`); None for none, or for a
    registration recorded before entries held credentials (an upgrade chains those again)."""
    if detail is None or not detail.startswith("{"):
        return None
    return json.loads(detail)  # type: ignore[no-any-return]


def _secret_matches(chained: dict[str, Any], presented: str, at: datetime) -> bool:
    given = _b64(presented)
    current = hmac.compare_digest(given, chained["secret_sha256"])
    previous = (
        chained["previous_secret_sha256"] is not None
        and at < datetime.fromisoformat(chained["previous_until"])
        and hmac.compare_digest(given, chained["previous_secret_sha256"])
    )
    return current or previous


def _new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _b64(hex_digest: str) -> str:
    """A SHA-256 in hex as base64url; a row's value that is no hex digest (edited by hand) as it is."""
    try:
        return b64url_encode(bytes.fromhex(hex_digest))
    except ValueError:
        return hex_digest


def _token(public_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}_{public_id}_{secret}"


def _now() -> datetime:
    return datetime.now(timezone.utc)
