"""The machine-readable credential: a compact JWS (ES256, `x5c`) of the certificate content.

Header `{"alg": "ES256", "typ": "mianzheng-ecert+jwt", "kid", "x5c"}` (`seals.jws.sign_jws`).
The payload is the canonical content (`CertificateContent.to_dict`) plus the registered JWT
claims `iss` (the issuer's USCC), `jti` (the identifier), `iat` (issued_at), `nbf` (valid_from)
and `exp` (valid_until, when the certificate expires), so generic JWT libraries apply the
validity window too. On reading, the claims must agree with the content.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.base64url import b64url_decode
from exchange.certificates.model import CertificateContent, InvalidContent, SealedFacts
from exchange.certificates.verdict import SignedForm, integrity_failure, with_integrity
from seals.jws import sign_jws
from seals.keys import Signer
from seals.trust import TrustStore
from seals.verify_jws import verify_jws

CREDENTIAL_TYP = "mianzheng-ecert+jwt"
REGISTERED_CLAIMS = ("iss", "jti", "iat", "nbf", "exp")


def sign_credential(content: CertificateContent, signer: Signer) -> str:
    """The credential of `content`, signed by the issuing department's seal."""
    return sign_jws({**content.to_dict(), **registered_claims(content)}, signer, typ=CREDENTIAL_TYP)


def verify_credential(token: str, trust: TrustStore, *, now: datetime) -> SignedForm:
    """Verify the signature and read the content (None when it cannot be read)."""
    verification = verify_jws(token, trust, now=now)
    verdict, claims = verification.verdict, verification.claims
    if claims is None or verification.header is None:
        return SignedForm(verdict, None)
    try:
        content = content_from_claims(claims)
        if verification.header.get("typ") != CREDENTIAL_TYP:
            raise InvalidContent(f"typ is not {CREDENTIAL_TYP}")
    except InvalidContent as error:
        return SignedForm(with_integrity(verdict, integrity_failure("not_a_certificate", detail=str(error))), None)
    return SignedForm(verdict, content)


def claimed_status_list(token: str) -> str | None:
    """The status list URL the credential's payload names, read without verifying anything or
    parsing the JSON (None when there is none to read): only a hint of which list a verifier
    may fetch before it verifies the credential, which then names its list for certain."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = b64url_decode(parts[1])
    except ValueError:
        return None
    start = payload.find(_LIST_URL_MEMBER)
    end = payload.find(b'"', start + len(_LIST_URL_MEMBER)) if start >= 0 else -1
    url = payload[start + len(_LIST_URL_MEMBER):end]
    return url.decode("ascii") if end >= 0 and url.isascii() and b"\\" not in url else None


_LIST_URL_MEMBER = b'"list_url":"'


def claims_certificate_type(token: str) -> bool:
    """Whether the token's header says it is a certificate's credential (`typ`), read without
    verifying anything: which verifier a pasted JWS goes to (a usage copy is a JWS too)."""
    header = token.strip().split(".")[0]
    try:
        return f'"typ":"{CREDENTIAL_TYP}"'.encode() in b64url_decode(header)
    except ValueError:
        return False


def content_from_claims(claims: dict[str, Any]) -> CertificateContent:
    """The content of a credential payload; `InvalidContent` if it is not one or its claims disagree."""
    content = CertificateContent.from_dict({key: value for key, value in claims.items() if key not in REGISTERED_CLAIMS})
    expected = registered_claims(content)
    if {key: claims.get(key) for key in REGISTERED_CLAIMS} != {key: expected.get(key) for key in REGISTERED_CLAIMS}:
        raise InvalidContent("the registered claims disagree with the content")
    return content


def registered_claims(content: SealedFacts) -> dict[str, Any]:
    """The registered JWT claims of a sealed content: issuer, identifier and validity window."""
    claims: dict[str, Any] = {
        "iss": content.issuer.uscc,
        "jti": content.identifier,
        "iat": int(content.issued_at.timestamp()),
        "nbf": int(content.valid_from.timestamp()),
    }
    if content.valid_until is not None:
        claims["exp"] = int(content.valid_until.timestamp())
    return claims
