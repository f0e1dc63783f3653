"""The registry of presentation nonces (a presentation verifies once), and the presentations
kept under a reference for a QR code's link.

`claim_nonce` inserts the claim of a license version's nonce (its primary key, SHA-256 of the
identifier and the nonce, is the unique claim: a verifier's nonce shown by two holders is two
claims) in a savepoint: True the first time, False when it is already there, whoever claimed it
first. Expired entries are of no
further use (the presentation is refused as expired anyway) and are swept by `sweep_nonces`,
`SWEEP_AFTER` past their expiry: the claim only works while the entry is there, and a
verification that read the presentation as fresh just before it expired (or on a host whose
clock is behind) is still to claim it then.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exchange.keyring import RecordCipher
from exchange.licenses.records import LicenseNonce, LicensePresentation

SWEEP_AFTER = timedelta(hours=1)
"""How long past its expiry a nonce is kept (see the module)."""


def claim_nonce(session: Session, license: str, nonce: str, expires_at: datetime, now: datetime) -> bool:
    """Claim `nonce` of the presentation of license version `license` (the caller commits); False
    if it was claimed before."""
    claim = hashlib.sha256(f"{license}\n{nonce}".encode()).hexdigest()
    try:
        with session.begin_nested():
            session.add(LicenseNonce(nonce=claim, expires_at=expires_at, used_at=now))
            session.flush()
    except IntegrityError:
        return False
    return True


def sweep_nonces(session: Session, now: datetime) -> int:
    """Delete the kept presentations that expired before `now`, and the nonces that expired
    `SWEEP_AFTER` before it; how many nonces."""
    session.execute(delete(LicensePresentation).where(LicensePresentation.expires_at < now))
    return session.execute(delete(LicenseNonce).where(LicenseNonce.expires_at < now - SWEEP_AFTER)).rowcount or 0


REFERENCE_CHARS = 43
"""The length of a kept presentation's reference (256 random bits in base64url)."""


def keep_presentation(session: Session, box: RecordCipher, text: str, expires_at: datetime) -> str:
    """Keep a presentation until it expires; the random reference a link can carry."""
    reference = secrets.token_urlsafe(32)
    session.add(LicensePresentation(reference=reference, presentation_sealed=box.seal({"presentation": text}, reference),
                                    expires_at=expires_at))
    session.flush()
    return reference


def kept_presentation(session: Session, box: RecordCipher, reference: str, now: datetime) -> str | None:
    """The presentation kept under `reference`, or None (unknown or expired)."""
    kept = session.get(LicensePresentation, reference) if len(reference) <= REFERENCE_CHARS else None
    if kept is None or kept.expires_at < now:
        return None
    return box.open(kept.presentation_sealed, reference)["presentation"]
