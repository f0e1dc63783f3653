"""Staff identity: a department's staff member (窗口工作人员) signed in through the city's identity
provider.

A staff assertion is a JWT (JWS compact, ES256 only) from a trusted identity provider with the
audience `STAFF_AUDIENCE` — never the citizens' audience, so neither kind is accepted as the
other — and the claims `iss`, `aud`, `sub`, `name`, `staff_number`, `department` (a catalog
department code), `role` (one of `ROLES`), `iat` and `exp`, at most `MAX_LIFETIME` apart. The
signature is checked with the same keys and limits as a citizen's assertion
(`exchange.identity`). What a role may do is `ROLES[role].scopes`, the same scopes a
department system's client token carries; a staff member acts only for their own department.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from joserfc.jwk import KeySet

from exchange.clients import AuthenticatedClient, ClientScope
from exchange.identity import (
    MAX_NAME_LENGTH, InvalidAssertion, verified_claims,
)

STAFF_AUDIENCE = "mianzheng:staff"
MAX_STAFF_NUMBER_LENGTH = 32
STAFF_CLIENT_PREFIX = "staff:"
"""How a staff member appears where a client id is kept (applications, idempotency):
`staff:<department>:<工号>` — a 工号 is only unique within its department."""


@dataclass(frozen=True)
class Role:
    """What a staff role is called and may do."""

    name_zh: str
    scopes: frozenset[str]


ROLES: Mapping[str, Role] = MappingProxyType({
    "caseworker": Role("窗口受理人员", frozenset({ClientScope.APPLICATIONS_WRITE})),
})


@dataclass(frozen=True)
class StaffIdentity:
    """A verified staff member of a department."""

    staff_number: str
    name: str
    department: str
    role: str
    issuer: str
    expires_at: datetime

    @property
    def caseworker_id(self) -> str:
        """How the staff member is named in the access log and the citizen's data-use log."""
        return f"{self.name}（工号 {self.staff_number}）"

    def as_client(self) -> AuthenticatedClient:
        """The staff member acting for their department, with the scopes of their role."""
        return AuthenticatedClient(client_id=f"{STAFF_CLIENT_PREFIX}{self.department}:{self.staff_number}",
                                   department_code=self.department, name=self.name, scopes=ROLES[self.role].scopes)


def verify_staff_assertion(token: str, public_keys: KeySet, issuer: str, now: datetime | None = None) -> StaffIdentity:
    """Verify signature and claims of a staff assertion; `InvalidAssertion` otherwise."""
    claims, expires_at = verified_claims(token, public_keys, issuer, STAFF_AUDIENCE, now,
                                         required=("sub", "name", "staff_number", "department", "role"))
    name, number, department, role = (claims[key] for key in ("name", "staff_number", "department", "role"))
    if not isinstance(name, str) or len(name.strip()) > MAX_NAME_LENGTH:
        raise InvalidAssertion("malformed", f"name must be a string of at most {MAX_NAME_LENGTH} characters")
    if not isinstance(number, str) or len(number) > MAX_STAFF_NUMBER_LENGTH or not number.isprintable():
        raise InvalidAssertion("malformed", f"staff_number must be at most {MAX_STAFF_NUMBER_LENGTH} characters")
    if not isinstance(department, str) or len(department) > 64:
        raise InvalidAssertion("malformed", "department must be a department code")
    if role not in ROLES:
        raise InvalidAssertion("unknown-role", f"role must be one of {', '.join(ROLES)}")
    return StaffIdentity(staff_number=number, name=name.strip(), department=department, role=role,
                         issuer=claims["iss"], expires_at=expires_at)
