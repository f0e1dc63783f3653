"""亮证: a presentation of a license that discloses only the items the holder chose, bound to a
fresh nonce and valid for a few minutes.

    <license issuer JWT>~<chosen disclosures>~<binding JWT>

The SD-JWT key-binding JWT is signed by a key of the holder's device. Citizens here have no
such key; they sign in to the exchange, which makes the presentation on their behalf and signs
the binding JWT with its own seal (typ `mianzheng-presentation+jwt`): `license` (the license
version's identifier), `nonce` (from the verifier, or fresh), `iat`, `exp` (at most
`MAX_MINUTES` later) and `sd_hash` (SHA-256 of everything before it). So a presentation cannot
be re-used with other disclosures, for another license, after its minutes, or — the verify
service claims each nonce once — twice.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from exchange.errors import InvalidInput
from exchange.licenses.sd_jwt import SdJwt, decode_disclosure, parse_sd_jwt, sd_hash
from exchange.licenses.verdict import LicenseCheck, LicenseCheckResult
from exchange.certificates.model import format_datetime_zh
from core.base64url import b64url_encode
from exchange.certificates.verdict import authentic
from seals.jws import sign_jws
from seals.keys import Signer
from seals.trust import TrustStore
from seals.verdict import Status
from seals.verify_jws import verify_jws

PRESENTATION_TYP = "mianzheng-presentation+jwt"
DEFAULT_MINUTES = 5
MAX_MINUTES = 10
SEAL_ORGANIZATION_PREFIX = "NTRCN-"


@dataclass(frozen=True)
class Presentation:
    text: str
    nonce: str
    expires_at: datetime


@dataclass(frozen=True)
class Binding:
    """What the binding JWT established: its check results and, when valid, nonce and expiry."""

    results: tuple[LicenseCheckResult, ...]
    nonce: str | None = None
    expires_at: datetime | None = None


VERIFIER_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
"""A nonce a verifier gives the holder to put in the presentation (and checks for): the holder
types it in, so it is short and plain."""
VERIFIER_NONCE_ZH = "随机数应为 8 至 64 位英文字母、数字、“_”或“-”。"


def new_nonce() -> str:
    return b64url_encode(secrets.token_bytes(16))


def make_presentation(credential: str, identifier: str, items: Collection[str], signer: Signer, *,
                      now: datetime, minutes: int = DEFAULT_MINUTES, nonce: str | None = None) -> Presentation:
    """A presentation of the license `credential` (with every disclosure) showing `items` only."""
    if not 1 <= minutes <= MAX_MINUTES:
        raise InvalidInput("minutes", f"must be between 1 and {MAX_MINUTES}")
    full = parse_sd_jwt(credential)
    held = {decode_disclosure(d)[1] for d in full.disclosures}
    unknown = sorted(set(items) - held)
    if unknown:
        raise InvalidInput("items", f"the license has no item(s) {', '.join(unknown)}")
    if not items:
        raise InvalidInput("items", "choose at least one item to show")
    chosen = full.with_only(items)
    nonce = nonce or new_nonce()
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    expires_at = now + timedelta(minutes=minutes)
    claims = {"license": identifier, "nonce": nonce, "iat": int(now.timestamp()),
              "exp": int(expires_at.timestamp()), "sd_hash": sd_hash(chosen.presented_part())}
    binding = sign_jws(claims, signer, typ=PRESENTATION_TYP)
    return Presentation(SdJwt(chosen.issuer_jwt, chosen.disclosures, binding).serialise(), nonce, expires_at)


def check_binding(sd: SdJwt, identifier: str, trust: TrustStore, exchange_uscc: str, *, now: datetime) -> Binding:
    """The binding and freshness checks of a presentation of license `identifier`."""
    binding_check, fresh_check = LicenseCheck.PRESENTATION_BINDING, LicenseCheck.PRESENTATION_FRESHNESS
    skipped = LicenseCheckResult.of(fresh_check, Status.SKIPPED, "not_checked_binding")
    if sd.binding_jwt is None:
        return Binding((LicenseCheckResult.of(binding_check, Status.INVALID, "binding_missing"), skipped))
    verification = verify_jws(sd.binding_jwt, trust, now=now)
    claims, signer = verification.claims, verification.verdict.signer
    if claims is None or not authentic(verification.verdict) or verification.verdict.status is Status.INVALID:
        failed = ", ".join(r.code for r in verification.verdict.checks if r.status is not Status.VALID)
        return Binding((LicenseCheckResult.of(binding_check, Status.INVALID, "binding_invalid", detail=failed),
                        skipped))
    mismatch = _mismatch(verification.header or {}, claims, sd, identifier,
                         None if signer is None else signer.organization_identifier, exchange_uscc)
    if mismatch:
        return Binding((LicenseCheckResult.of(binding_check, Status.INVALID, "binding_mismatch", detail=mismatch),
                        skipped))
    issued, expires = datetime.fromtimestamp(claims["iat"], timezone.utc), datetime.fromtimestamp(claims["exp"],
                                                                                                   timezone.utc)
    until = format_datetime_zh(expires)
    if now > expires:
        fresh = LicenseCheckResult.of(fresh_check, Status.INVALID, "presentation_expired", until=until)
    elif now < issued - timedelta(minutes=1):
        fresh = LicenseCheckResult.of(fresh_check, Status.INVALID, "presentation_not_yet_valid")
    else:
        fresh = LicenseCheckResult.of(fresh_check, Status.VALID, "presentation_fresh", until=until)
    valid = LicenseCheckResult.of(binding_check, Status.VALID, "binding_valid")
    return Binding((valid, fresh), claims["nonce"], expires)


def _mismatch(header: dict[str, Any], claims: dict[str, Any], sd: SdJwt, identifier: str, seal: str | None,
              exchange_uscc: str) -> str | None:
    if header.get("typ") != PRESENTATION_TYP:
        return f"typ is not {PRESENTATION_TYP}"
    if seal != SEAL_ORGANIZATION_PREFIX + exchange_uscc:
        return "not signed by the exchange's seal"
    if not (isinstance(claims.get("iat"), int) and isinstance(claims.get("exp"), int)
            and isinstance(claims.get("nonce"), str) and claims["nonce"]):
        return "iat, exp or nonce missing"
    if claims["exp"] - claims["iat"] > MAX_MINUTES * 60:
        return f"valid for more than {MAX_MINUTES} minutes"
    if claims.get("license") != identifier:
        return "made for another license"
    if claims.get("sd_hash") != sd_hash(sd.presented_part()):
        return "sd_hash does not cover these disclosures"
    return None
