"""Verify a compact JWS signed by a seal, against a `TrustStore`.

Only ES256 (low-S, `seals.ecdsa_raw`) and PS256 are accepted, decided by an allow-list before any key is touched, so
`alg: none` and algorithm confusion (HS256 keyed with the public key, ...) fail as
`alg_not_allowed`. The key comes from `x5c[0]` (or, without `x5c`, from the trust store by
`kid`) and must match the algorithm's key type; a `kid` that does not name `x5c[0]` fails.
Other `x5c` members are ignored: the chain is always built to the configured root. The
signing time is the payload's `iat` claim; headers with `crit`, duplicate JSON members and JSON
nested deeper than `catalog.bounded_json.MAX_DEPTH` are rejected as malformed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from catalog import bounded_json
from core.base64url import b64url_decode
from seals.ca import USCC_PREFIX, certificate_kid, utc_now
from seals.ecdsa_raw import der_signature
from seals.identity_memo import by_identity
from seals.checks import (
    SIGNING_TIME_CLAIMED,
    SIGNING_TIME_VERIFICATION,
    certificate_checks,
    integrity_only,
    key_matches_algorithm,
    seal_not_found,
    steady_while_valid,
    summarise_signer,
)
from seals.trust import TrustStore
from seals.verdict import Check, CheckResult, Status, Verdict

ALLOWED_ALGORITHMS = frozenset({"ES256", "PS256"})
_ES256 = ec.ECDSA(hashes.SHA256())
_PS256 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
"""The algorithms' parameters, made once (immutable; a few per cent of a verification each time)."""


class _Rejected(Exception):
    """Internal: the token fails integrity with this result."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.code)
        self.result = result


@dataclass(frozen=True)
class JwsVerification:
    verdict: Verdict
    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    """The decoded payload; trust it only when `verdict.valid`."""


def verify_jws(token: str, trust: TrustStore, *, now: datetime | None = None, remember: bool = False) -> JwsVerification:
    """Verify `token` and return the verdict with the decoded header and claims.

    `remember`: the token is one verified again and again (a status list, which every
    certificate check reads): its parse and its signature check are remembered (a few such tokens
    per process; the header and claims returned are then shared, read them only), and so is a
    VALID verdict, for the same trust store and only for the moments the checks that read the
    clock would give it again (`seals.checks.steady_while_valid`)."""
    now = now or utc_now()
    if not remember:
        return _verification(token, trust, now, remember=False)[0]
    kept = _verdicts_kept.get(token)
    if kept is not None and kept[0] is trust and kept[2] <= now and (kept[3] is None or now <= kept[3]):
        return kept[1]
    verification, steady = _verification(token, trust, now, remember=True)
    if steady is not None and verification.verdict.valid:
        if len(_verdicts_kept) >= _VERDICTS_KEPT:
            _verdicts_kept.clear()
        _verdicts_kept[token] = (trust, verification, *steady)
    return verification


class NotSignedAsExpected(ValueError):
    """A token that is not the document expected, signed by the organisation expected; the reason
    in Chinese."""


def claims_signed_by(token: str, trust: TrustStore, *, uscc: str, typ: str, signer_zh: str,
                     document_zh: str) -> dict[str, Any]:
    """The claims of `token` when it verifies under `trust`, the seal of organisation `uscc`
    (`signer_zh`) signed it and its `typ` is `typ` (a `document_zh`); `NotSignedAsExpected` otherwise."""
    result = verify_jws(token.strip(), trust)
    if not result.verdict.valid or result.claims is None:
        failed = "、".join(c.message_zh for c in result.verdict.checks if c.status is not Status.VALID)
        raise NotSignedAsExpected(f"签名未通过验证：{failed}")
    signer = result.verdict.signer
    if signer is None or signer.organization_identifier != USCC_PREFIX + uscc:
        raise NotSignedAsExpected(f"不是{signer_zh}的印章签发的")
    if (result.header or {}).get("typ") != typ:
        raise NotSignedAsExpected(f"不是{document_zh}")
    return result.claims


def _verification(token: str, trust: TrustStore, now: datetime, *, remember: bool
                  ) -> tuple[JwsVerification, tuple[datetime, datetime | None] | None]:
    """`verify_jws`; and for a token to remember, signed at a claimed time, the moments its
    checks hold steady (`steady_while_valid`)."""
    try:
        header, claims, signing_input, signature = (_remembered_parse if remember else _parse)(token)
    except _Rejected as rejected:
        return JwsVerification(integrity_only(rejected.result)), None
    try:
        certificate = _signing_certificate(header, trust, claims.get("iat"), now)
    except _Rejected as rejected:
        return JwsVerification(integrity_only(rejected.result), header, claims), None
    integrity = (_remembered_signature if remember else _check_signature)(header["alg"], certificate, signing_input,
                                                                         signature)
    iat = claims.get("iat")
    if isinstance(iat, (int, float)) and not isinstance(iat, bool):
        try:
            signing_time, source = datetime.fromtimestamp(iat, timezone.utc), SIGNING_TIME_CLAIMED
        except (OverflowError, ValueError, OSError):  # NaN, infinite, beyond the calendar
            return JwsVerification(integrity_only(_malformed("iat is not a time").result), header, claims), None
    else:
        signing_time, source = now, SIGNING_TIME_VERIFICATION
    verdict = Verdict(
        (
            integrity,
            *certificate_checks(certificate, trust, signing_time=signing_time, signing_time_source=source, now=now),
        ),
        signer=summarise_signer(certificate),
        signing_time=signing_time,
        signing_time_source=source,
    )
    claimed = remember and source == SIGNING_TIME_CLAIMED
    steady = steady_while_valid(certificate, trust, signing_time) if claimed else None
    return JwsVerification(verdict, header, claims), steady


def _parse(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise _malformed("not a compact JWS (three dot-separated parts)")
    try:
        header = dict(_header(parts[0]))
        claims = _json_object(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except ValueError as error:
        raise _malformed(str(error)) from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise _Rejected(CheckResult.of(Check.INTEGRITY, Status.INVALID, "alg_not_allowed", alg=_shown(alg)))
    if "crit" in header:
        raise _malformed("unsupported critical header parameters")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def _readable_time(iat: Any) -> datetime | None:
    """The time an `iat` claim not yet verified gives, None when it gives none."""
    if not isinstance(iat, (int, float)) or isinstance(iat, bool):
        return None
    try:
        return datetime.fromtimestamp(iat, timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


def _signing_certificate(header: dict[str, Any], trust: TrustStore, iat: Any, now: datetime) -> x509.Certificate:
    kid = header.get("kid")
    chain = header.get("x5c")
    if chain is None:
        found = trust.seal_by_kid(kid) if isinstance(kid, str) else None
        if found is None:
            raise _Rejected(seal_not_found(trust, _readable_time(iat), now))
        return found
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise _malformed("x5c is not a list of certificates")
    try:
        certificate = _x5c_certificate(chain[0])
    except (ValueError, binascii.Error):
        raise _malformed("x5c[0] is not a DER certificate") from None
    if kid is not None and kid != certificate_kid(certificate):
        raise _Rejected(CheckResult.of(Check.INTEGRITY, Status.INVALID, "kid_mismatch"))
    return certificate


def signing_kid(token: str) -> str | None:
    """The kid a compact JWS (or an SD-JWT) names in its protected header, unverified: for our own
    stored documents; None when it names none or cannot be read."""
    try:
        kid = _header(token.split(".", 1)[0]).get("kid")
    except ValueError:
        return None
    return kid if isinstance(kid, str) else None


@lru_cache(maxsize=64)
def _header(encoded: str) -> dict[str, Any]:
    """The protected header of its base64url text, read under the same limits as the payload: a
    pure function of the text, and every document a seal signs has the same header (its chain in
    `x5c`), so read once per process for the few seals in use. Shared: `_parse` hands out a copy of
    its top level (callers may add or replace members); a header that cannot be read raises
    `ValueError` again each time, never remembered."""
    return _json_object(b64url_decode(encoded))


@lru_cache(maxsize=64)
def _x5c_certificate(entry: str) -> x509.Certificate:
    """The certificate of an `x5c` entry (parsed once per process for the few seals in use)."""
    return x509.load_der_x509_certificate(base64.b64decode(entry, validate=True))


def _check_signature(alg: str, certificate: x509.Certificate, signing_input: bytes, signature: bytes) -> CheckResult:
    key = certificate.public_key()
    if not key_matches_algorithm(key, alg):
        return CheckResult.of(Check.INTEGRITY, Status.INVALID, "key_alg_mismatch", alg=alg)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            der = der_signature(signature)
            if der is None:
                return CheckResult.of(Check.INTEGRITY, Status.INVALID, "signature_mismatch")
            key.verify(der, signing_input, _ES256)
        else:
            key.verify(signature, signing_input, _PS256, hashes.SHA256())
    except InvalidSignature:
        return CheckResult.of(Check.INTEGRITY, Status.INVALID, "signature_mismatch")
    return CheckResult.of(Check.INTEGRITY, Status.VALID, "signature_valid")


_remembered_parse = lru_cache(maxsize=16)(_parse)
"""`_parse` is a pure function of the token (a rejection is raised, never remembered)."""

_remembered_signature = by_identity(lru_cache(maxsize=16)(_check_signature))
"""`_check_signature` is a pure function of its arguments: for `verify_jws(remember=True)`, whose
remembered parse hands out the same objects for the same token (so looked up by identity first)."""

_VERDICTS_KEPT = 16
_verdicts_kept: dict[str, tuple[TrustStore, JwsVerification, datetime, datetime | None]] = {}
"""For `verify_jws(remember=True)`: token -> the trust store it was verified with (kept alive, so
compared by identity), its VALID verification, and from when to when that verdict holds."""


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = bounded_json.loads(data, decoder=bounded_json.NO_DUPLICATES)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value




def _malformed(detail: str) -> _Rejected:
    return _Rejected(CheckResult.of(Check.INTEGRITY, Status.INVALID, "malformed", detail=detail))


def _shown(value: object) -> str:
    return repr(value)[:32]
