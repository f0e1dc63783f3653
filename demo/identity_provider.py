"""The development identity provider (开发测试用身份认证): it signs identity assertions — a
citizen's, a demo staff member's, an organisation's — for whatever is typed in. It proves
nothing about anyone and is only for demos and tests; the product verifies its assertions
like any trusted provider's (`exchange.identity`, `exchange.staff`, `exchange.legal_person`).
Its key pair lives under var/dev-idp/ (private key mode 0600).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from catalog.citizen_id import parse_id_number
from catalog.credit_code import parse_uscc
from catalog.model import Catalog
from core.private_files import private_dir
from exchange.identity import ALGORITHM, AUDIENCE, MAX_LIFETIME, MAX_NAME_LENGTH
from exchange.legal_person import LEGAL_PERSON_AUDIENCE
from exchange.staff import STAFF_AUDIENCE

DEV_ISSUER = "urn:mianzheng:dev-idp"
DEV_KEY_FILE = "signing-key.pem"


@dataclass(frozen=True)
class DevIdentityProvider:
    """The development identity provider: signs assertions for anyone. Never for production."""

    signing_key: ECKey = field(repr=False)
    issuer: str = DEV_ISSUER

    @property
    def public_keys(self) -> KeySet:
        return KeySet([ECKey.import_key(self.signing_key.as_dict(private=False))])

    @classmethod
    def open(cls, directory: Path) -> DevIdentityProvider:
        """The provider whose key lives in `directory`, generating the key pair the first time.

        Safe when several processes start at once: the key is written to a private temporary
        file and linked into place; whoever links first wins and the others read that key.
        """
        private_dir(directory)
        path = directory / DEV_KEY_FILE
        if not path.exists():
            key = ECKey.generate_key("P-256", auto_kid=True)
            temporary = directory / f".{DEV_KEY_FILE}.{uuid.uuid4().hex}"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(key.as_pem(private=True))
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        key = ECKey.import_key(path.read_bytes())
        key.ensure_kid()
        return cls(signing_key=key)

    def issue_dev_assertion(
        self, id_number: str, name: str, *, now: datetime | None = None, lifetime: timedelta = MAX_LIFETIME
    ) -> str:
        """An assertion for whoever `id_number` and `name` say; `InvalidIdentifier` for a bad number."""
        number = parse_id_number(id_number).number
        clean_name = name.strip()
        if not clean_name or len(clean_name) > MAX_NAME_LENGTH:
            raise ValueError(f"name must have 1 to {MAX_NAME_LENGTH} characters")
        issued_at = int((now or datetime.now(timezone.utc)).timestamp())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": self._pseudonym(number),
            "id_number": number,
            "name": clean_name,
            "iat": issued_at,
            "exp": issued_at + int(lifetime.total_seconds()),
            "jti": uuid.uuid4().hex,
        }
        header = {"alg": ALGORITHM, "kid": self.signing_key.kid}
        return jwt.encode(header, claims, self.signing_key, algorithms=[ALGORITHM])

    def _pseudonym(self, number: str) -> str:
        """A stable id per person that does not reveal the ID number (keyed by the private key)."""
        secret = self.signing_key.as_pem(private=True)
        return "dev-" + hmac.new(secret, number.encode("ascii"), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class DemoStaff:
    """A made-up staff member the development identity provider signs in."""

    staff_number: str
    name: str
    department: str
    role: str = "caseworker"


_DEMO_NAMES = ("王晓燕", "李建国", "陈静", "刘洋", "周敏", "吴强", "郑丽华", "孙磊", "黄婷", "朱伟", "胡晓东",
               "林芳", "何涛", "高雪")


def demo_staff(catalog: Catalog) -> list[DemoStaff]:
    """One made-up caseworker per department of the catalog, in the catalog's order."""
    return [DemoStaff(staff_number=f"{code}-{index + 1:04d}", name=_DEMO_NAMES[index % len(_DEMO_NAMES)],
                      department=code)
            for index, code in enumerate(catalog.departments)]


def issue_dev_staff_assertion(provider: DevIdentityProvider, staff: DemoStaff, *,
                              now: datetime | None = None) -> str:
    """The development provider's assertion for a demo staff member (proves nothing)."""
    issued_at = int((now or datetime.now(timezone.utc)).timestamp())
    claims = {
        "iss": provider.issuer, "aud": STAFF_AUDIENCE, "sub": f"dev-staff-{staff.staff_number}",
        "name": staff.name, "staff_number": staff.staff_number, "department": staff.department,
        "role": staff.role, "iat": issued_at, "exp": issued_at + int(MAX_LIFETIME.total_seconds()),
        "jti": uuid.uuid4().hex,
    }
    header = {"alg": ALGORITHM, "kid": provider.signing_key.kid}
    return jwt.encode(header, claims, provider.signing_key, algorithms=[ALGORITHM])


def issue_dev_legal_person_assertion(provider: DevIdentityProvider, uscc: str, name: str, agent_name: str, *,
                                     now: datetime | None = None, lifetime: timedelta = MAX_LIFETIME) -> str:
    """A legal-person assertion for whatever `uscc` and names say (development only);
    `InvalidIdentifier` for a bad code, ValueError for an empty or too long name."""
    code = parse_uscc(uscc).code
    clean = [value.strip() for value in (name, agent_name)]
    if not all(0 < len(value) <= MAX_NAME_LENGTH for value in clean):
        raise ValueError(f"names must have 1 to {MAX_NAME_LENGTH} characters")
    issued_at = int((now or datetime.now(timezone.utc)).timestamp())
    secret = provider.signing_key.as_pem(private=True)
    claims = {
        "iss": provider.issuer, "aud": LEGAL_PERSON_AUDIENCE,
        "sub": "dev-org-" + hmac.new(secret, f"uscc:{code}".encode("ascii"), hashlib.sha256).hexdigest()[:32],
        "uscc": code, "name": clean[0], "agent_name": clean[1],
        "iat": issued_at, "exp": issued_at + int(lifetime.total_seconds()), "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": ALGORITHM, "kid": provider.signing_key.kid}, claims, provider.signing_key,
                      algorithms=[ALGORITHM])
