"""加注件: a usage copy of a license, made by the exchange for one use — one matter, one using
department, one purpose — and valid until an expiry.

A compact JWS sealed by the exchange (typ `mianzheng-elicense-usage+jwt`):

    {"jti": <copy id>, "iss": <exchange USCC>, "iat", "exp",
     "usage": {"matter", "matter_name_zh", "department", "department_name_zh", "purpose_zh",
               "case_number", "used_at", "valid_until"},
     "license": "<license issuer JWT>~<disclosures of the items the use may receive>~"}

The license inside is the issuing department's own credential with only the 用证清单's items
disclosed, so the copy proves both what the license says (the issuer's seal) and for what it
was handed over (the exchange's seal). Verifiers report it as a usage copy valid only for that
use, until then.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from core.validity import lapsed
from exchange.certificates.model import format_datetime_zh, format_time, parse_time
from exchange.licenses.presentation import SEAL_ORGANIZATION_PREFIX
from exchange.licenses.sd_jwt import parse_sd_jwt
from exchange.licenses.verdict import LicenseCheck, LicenseCheckResult
from exchange.certificates.verdict import authentic
from seals.jws import sign_jws
from seals.keys import Signer
from seals.trust import TrustStore
from seals.verdict import Status
from seals.verify_jws import verify_jws

USAGE_TYP = "mianzheng-elicense-usage+jwt"


@dataclass(frozen=True)
class Use:
    matter: str
    matter_name_zh: str
    department: str
    department_name_zh: str
    purpose_zh: str
    case_number: str

    def describe(self) -> dict[str, str]:
        return {"matter": self.matter, "matter_name_zh": self.matter_name_zh, "department": self.department,
                "department_name_zh": self.department_name_zh, "purpose_zh": self.purpose_zh,
                "case_number": self.case_number}


@dataclass(frozen=True)
class UsageCopy:
    identifier: str
    token: str


@dataclass(frozen=True)
class ReadUsage:
    """A usage copy's seal and window checks, the use, and the license it carries (None when unreadable)."""

    results: tuple[LicenseCheckResult, ...]
    usage: dict[str, Any] | None
    license: str | None


def make_usage_copy(credential: str, items: Collection[str], use: Use, signer: Signer, exchange_uscc: str, *,
                    now: datetime, valid_until: datetime) -> UsageCopy:
    """Seal a usage copy of the license `credential` disclosing `items` for `use`."""
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    valid_until = valid_until.astimezone(timezone.utc).replace(microsecond=0)
    identifier = str(uuid.uuid4())
    inner = parse_sd_jwt(credential).with_only(items).serialise()
    usage = {**use.describe(), "used_at": format_time(now), "valid_until": format_time(valid_until)}
    claims = {"jti": identifier, "iss": exchange_uscc, "iat": int(now.timestamp()),
              "exp": int(valid_until.timestamp()), "usage": usage, "license": inner}
    return UsageCopy(identifier, sign_jws(claims, signer, typ=USAGE_TYP))


def read_usage_copy(token: str, trust: TrustStore, exchange_uscc: str, *, now: datetime) -> ReadUsage:
    """Check the exchange's seal and the window; never raises for bad input."""
    seal_check, window_check = LicenseCheck.USAGE_SEAL, LicenseCheck.USAGE_WINDOW
    skipped = LicenseCheckResult.of(window_check, Status.SKIPPED, "not_checked_license")
    verification = verify_jws(token.strip(), trust, now=now)
    claims = verification.claims
    if claims is None or not authentic(verification.verdict) or verification.verdict.status is Status.INVALID:
        failed = ", ".join(r.code for r in verification.verdict.checks if r.status is not Status.VALID)
        return ReadUsage((LicenseCheckResult.of(seal_check, Status.INVALID, "usage_seal_invalid", detail=failed),
                          skipped), None, None)
    signer = verification.verdict.signer
    try:
        if (verification.header or {}).get("typ") != USAGE_TYP:
            raise ValueError(f"typ is not {USAGE_TYP}")
        if signer is None or signer.organization_identifier != SEAL_ORGANIZATION_PREFIX + exchange_uscc:
            return ReadUsage((LicenseCheckResult.of(seal_check, Status.INVALID, "usage_not_by_exchange",
                                                    signer=(signer.organization if signer else None) or "未知"),
                              skipped), None, None)
        usage, inner = claims["usage"], claims["license"]
        until = parse_time(usage["valid_until"])
        if not isinstance(inner, str) or claims.get("exp") != int(until.timestamp()):
            raise ValueError("the license or the expiry is missing or inconsistent")
        seal = LicenseCheckResult.of(seal_check, Status.VALID, "usage_sealed", department=usage["department_name_zh"],
                                     matter=usage["matter_name_zh"])
    except (KeyError, TypeError, ValueError) as error:
        return ReadUsage((LicenseCheckResult.of(seal_check, Status.INVALID, "usage_malformed", detail=str(error)),
                          skipped), None, None)
    shown = format_datetime_zh(until)
    window = (LicenseCheckResult.of(window_check, Status.INVALID, "usage_expired", until=shown) if lapsed(until, now)
              else LicenseCheckResult.of(window_check, Status.VALID, "usage_within", until=shown))
    return ReadUsage((seal, window), {**usage, "identifier": claims.get("jti")}, inner)
