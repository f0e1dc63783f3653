"""The seals revoked for key compromise, and whether a stored document was signed by one.

From such a revocation on, every verifier calls what the seal's key signed 无效, whenever it
claims to have been signed: whoever holds a stolen key can back-date a signature (`checks`). The
documents' own records still read valid, so the holders' lists ask this, and say that the
document must be had again under the department's new seal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from seals import ca
from seals.registry import Seal, SealStatus
from seals.verify_jws import signing_kid

COMPROMISE_REASONS = (ca.RevocationReason.KEY_COMPROMISE.value,)
"""The revocation reasons (as stored) after which no claimed signing time is believed."""
SIGNED_BEFORE_CREATED = timedelta(hours=1)
"""How long before a seal was created a document may say it was issued and still be signed by
it: an issuance takes its time before it reads the department's seal, which a rotation may
replace meanwhile (a generous bound: the documents outside it are not opened)."""


@dataclass(frozen=True)
class CompromisedSeal:
    department: str
    kid: str
    created_at: datetime
    revoked_at: datetime

    @property
    def window(self) -> tuple[datetime, datetime]:
        """When what its department issued may have been signed by it: from a little before it was
        created to its revocation (what was stored with it was signed before: `registry.revoke_seal`
        waits for it)."""
        return self.created_at - SIGNED_BEFORE_CREATED, self.revoked_at


@dataclass(frozen=True)
class CompromisedSeals:
    """Every seal revoked for key compromise (usually none: then nothing is opened)."""

    seals: tuple[CompromisedSeal, ...]

    def windows(self, department: str) -> list[tuple[datetime, datetime]]:
        """When what `department` issued may have been signed by one of the seals (`CompromisedSeal.window`)."""
        return [seal.window for seal in self.seals if seal.department == department]

    def signed(self, department: str, issued_at: datetime, credential: Callable[[], str]) -> bool:
        """Whether the document `department` issued at `issued_at` was signed by one of the seals:
        its credential (`credential`, opened only when one of the department's seals could have
        signed it then) names the seal by its kid."""
        suspects = {seal.kid for seal in self.seals
                    if seal.department == department and seal.window[0] <= issued_at <= seal.window[1]}
        return bool(suspects) and signing_kid(credential()) in suspects


def compromised_seals(session: Session) -> CompromisedSeals:
    """The seals revoked for key compromise: one statement, once per session (a list of licenses
    asks for each of them; a revocation is seen by the next session, a request's or a step's)."""
    known = session.info.get(_READ)
    if known is None:
        seals = session.scalars(select(Seal).where(Seal.status == SealStatus.REVOKED,
                                                   Seal.revocation_reason.in_(COMPROMISE_REASONS)))
        known = session.info[_READ] = CompromisedSeals(tuple(
            CompromisedSeal(seal.department_code, ca.certificate_kid(seal.certificate), seal.created_at,
                            seal.revoked_at) for seal in seals if seal.revoked_at is not None))
    return known


_READ = "mianzheng.compromised_seals"
"""The session's info key under which `compromised_seals` keeps what it read."""
