"""Signing what is handed out at once (a signed access-log head, the issuer list, a sealed PDF
on download, a 亮证) under a held seal. A seal's revocation takes its time a moment before it
commits; a signer that merely reads the seal as active could sign in that moment, and what it
signed would carry a time at or after the revocation, which every verifier rejects. Signed in a
step that holds the department's seals (`seals.registry.held_signer`), it waits for such a
revocation and then finds the seal revoked (`NoActiveSeal`), or signs before the revocation takes
its time. On PostgreSQL the hold is a shared advisory lock, so a request's own transaction can
hold it too (a sealed PDF on download, a 亮证 kept with its reference: `held_signer` on the
request's session, to its end); on SQLite only a write step waits for the revocation's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from exchange.unit_of_work import UnitOfWork
from seals.keys import Signer
from seals.registry import held_signer
from seals.settings import SealSettings

Signed = TypeVar("Signed")


def signed_under_held_seal(uow: UnitOfWork, settings: SealSettings, department: str,
                           sign: Callable[[Signer], Signed]) -> Signed:
    """What `sign` makes with the department's active seal, in a step holding its seals."""
    with uow.step("sign-under-held-seal") as session:
        return sign(held_signer(session, settings, department))
