"""Signed heads of the access log: the exchange's seal vouches that entry `seq` of its log hashes to
`entry_hash`, at the time it signed.

A hash chain alone cannot show that its newest entries were cut off, nor that someone with write
access to the database rewrote it and recomputed every hash. A signed head held outside the
installation can: anyone may fetch one at any time (`GET /api/v1/trust/access-log-head`) and
keep it, and `mianzheng audit verify --signed-head` later proves that the log still holds that
entry unchanged, so everything before it. The city cannot deny a head it signed, and no one
without the exchange's seal key can make one. The head is a JWS (ES256, `x5c` = the exchange's
seal chain, typ `mianzheng-log-head+jwt`), like the exchange's receipts.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, text

from exchange.access_log import ChainHead
from exchange.errors import InvalidInput
from seals.jws import sign_jws
from seals.keys import Signer
from seals.trust import TrustStore
from seals.verify_jws import NotSignedAsExpected, claims_signed_by

HEAD_TYPE = "mianzheng-log-head+jwt"


@dataclass(frozen=True)
class SignedHead:
    head: ChainHead
    signed_at: datetime
    token: str


def sign_head(head: ChainHead, signer: Signer, *, now: datetime) -> SignedHead:
    """`head` signed by `signer` (the exchange's seal) at `now`."""
    claims = {"seq": head.seq, "entry_hash": head.entry_hash, "iat": int(now.timestamp())}
    token = sign_jws(claims, signer, typ=HEAD_TYPE)
    return SignedHead(head, datetime.fromtimestamp(claims["iat"], timezone.utc), token)


def make_durable(engine: Engine, head: ChainHead) -> None:
    """Make the entry `head` names durable, with every entry before it, before a head naming it is
    signed. An allowed access's entry is committed without waiting for the disk (PostgreSQL's
    `synchronous_commit = off`, see `access_log.append_accesses`); a head the city signs must
    survive a crash, or an auditor holding it would find the log cut. On PostgreSQL a transaction
    that writes (here a no-op update of the head's row, which changes no value) and commits with
    `synchronous_commit = on` flushes the write-ahead log up to its commit record, and so every
    commit before it. SQLite's relaxed commits (`synchronous = NORMAL`) survive a crash of the
    process already; only a power cut can lose them.

    The process remembers the newest entry it made durable: a head no newer costs nothing, so
    anyone fetching the head as often as they like makes no more writes than the log has entries."""
    if engine.dialect.name != "postgresql" or head.seq <= _durable_through.get(engine, 0):
        return
    with engine.begin() as connection:
        connection.execute(_SYNCHRONOUS_COMMIT)
        connection.execute(_TOUCH_HEAD, {"seq": head.seq})
    with _durable_guard:
        _durable_through[engine] = max(head.seq, _durable_through.get(engine, 0))


_durable_through: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()
"""Per engine, the newest entry this process has made durable (so every entry up to it is)."""
_durable_guard = threading.Lock()
_SYNCHRONOUS_COMMIT = text("SELECT set_config('synchronous_commit', 'on', true)")
_TOUCH_HEAD = text("UPDATE access_log SET seq = seq WHERE seq = :seq")


def read_signed_head(token: str, trust: TrustStore, exchange_uscc: str) -> SignedHead:
    """The head `token` vouches for, or `InvalidInput` (field `signed_head`) saying why not: its
    seal signature, chain or seal status fails under `trust`, another seal than the exchange's
    (`exchange_uscc`) signed it, or it is no access-log head."""
    try:
        claims = claims_signed_by(token, trust, uscc=exchange_uscc, typ=HEAD_TYPE, signer_zh="交换平台",
                                  document_zh="访问日志的链头")
    except NotSignedAsExpected as refused:
        raise InvalidInput("signed_head", str(refused)) from None
    seq, entry_hash, signed_at = claims.get("seq"), claims.get("entry_hash"), claims.get("iat")
    if not isinstance(seq, int) or not isinstance(entry_hash, str) or not isinstance(signed_at, int):
        raise InvalidInput("signed_head", "不是访问日志的链头")
    try:
        head = ChainHead.parse(f"{seq}:{entry_hash}")
    except InvalidInput:
        raise InvalidInput("signed_head", "不是访问日志的链头") from None
    return SignedHead(head, datetime.fromtimestamp(signed_at, timezone.utc), token.strip())
