"""The registry of presentation nonces: a presentation verifies once.

`claim_nonce` inserts the nonce (its primary key is the unique claim) in a savepoint: True the
first time, False when it is already there, whoever claimed it first. Expired entries are of no
further use (the presentation is refused as expired anyway) and are swept by `sweep_nonces`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exchange.licenses.records import LicenseNonce


def claim_nonce(session: Session, nonce: str, expires_at: datetime, now: datetime) -> bool:
    """Claim `nonce` (the caller commits); False if it was claimed before."""
    try:
        with session.begin_nested():
            session.add(LicenseNonce(nonce=nonce, expires_at=expires_at, used_at=now))
            session.flush()
    except IntegrityError:
        return False
    return True


def sweep_nonces(session: Session, now: datetime) -> int:
    """Delete the nonces of presentations that expired before `now`; how many."""
    return session.execute(delete(LicenseNonce).where(LicenseNonce.expires_at < now)).rowcount or 0
