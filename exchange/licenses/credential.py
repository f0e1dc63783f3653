"""A license version's credential: an SD-JWT (`exchange.licenses.sd_jwt`) signed by the issuing
department's seal, and reading one back.

Header `{"alg": "ES256", "typ": "mianzheng-elicense+sd-jwt", "kid", "x5c"}` (`seals.jws.sign_jws`).
Payload: the clear content (`LicenseContent.clear_claims`), the registered claims `iss` (issuer
USCC), `jti` (identifier), `iat`, `nbf`, `exp` (when the license expires), `vct` (the license
type, `urn:mianzheng:license:<code>`), `_sd_alg` and `items: {"_sd": [digests]}` — each data item
is one disclosure `[salt, name, value]`. What the holder downloads carries every disclosure; a
presentation or a usage copy carries some.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from exchange.certificates.credential import registered_claims
from exchange.certificates.model import InvalidContent
from exchange.certificates.verdict import SignedForm, with_integrity
from exchange.licenses.content import LICENSE_CLAIMS, LicenseContent
from exchange.licenses.sd_jwt import (
    SD_ALG,
    SdJwt,
    SdJwtError,
    decode_disclosure,
    disclosed_values,
    disclosures_for,
    parse_sd_jwt,
)
from core.base64url import b64url_decode
from seals.checks import integrity_only
from seals.jws import sign_jws
from seals.keys import Signer
from seals.trust import TrustStore
from seals.verdict import Check, CheckResult, Status
from seals.verify_jws import verify_jws

LICENSE_TYP = "mianzheng-elicense+sd-jwt"
VCT_PREFIX = "urn:mianzheng:license:"

INTEGRITY_MESSAGES: dict[str, tuple[str, str]] = {
    "not_an_sd_jwt": ("输入不是电子证照凭证（SD-JWT）。", "The input is not an e-license credential (SD-JWT)."),
    "usage_copy_unverified": ("加注件未通过验证，其中的证照未予读取。",
                              "The usage copy does not verify, so the license in it was not read."),
    "pdf_unverified": ("PDF 文件的签名未通过验证，所附的证照未予读取：{reason_zh}",
                       "The PDF's signature does not verify, so the license attached to it was not read: {reason_en}"),
    "not_a_license": ("签名内容的格式不正确，不是本市签发的电子证照。", "The signed content is not a valid e-license: {detail}."),
    "disclosure_malformed": ("出示的某一项内容格式错误，无法读取。", "A disclosure is malformed: {detail}."),
    "disclosure_not_signed": (
        "有披露项不在证照签名的摘要中（伪造或取自其他证照）。",
        "A disclosure is not among the license's signed digests (forged or taken from another license).",
    ),
    "disclosure_repeated": ("同一项内容被出示了两次。", "A disclosure is given twice: {detail}."),
    "items_withheld": (
        "凭证未披露全部事项：只展示部分事项须用亮证（一次有效、数分钟内）或加注件，不能单独作为电子证照。",
        "The credential withholds items: a selection of items is shown only as a presentation (亮证, once, "
        "within minutes) or in a usage copy, never on its own as a license.",
    ),
}


@dataclass(frozen=True)
class ReadLicense:
    """A license credential read back: the signature verdict with the content (its disclosed
    items), the SD-JWT's parts and its signed payload (None when unreadable)."""

    signed: SignedForm
    sd_jwt: SdJwt | None
    claims: dict[str, Any] | None


def sign_license(content: LicenseContent, signer: Signer) -> str:
    """The SD-JWT of `content` with a disclosure for every item, signed by the issuer's seal."""
    disclosures, digests = disclosures_for(content.items)
    payload = {**content.clear_claims(), **license_claims(content), "_sd_alg": SD_ALG,
               "items": {"_sd": digests}}
    return SdJwt(sign_jws(payload, signer, typ=LICENSE_TYP), disclosures).serialise()


def license_claims(content: LicenseContent) -> dict[str, Any]:
    """The registered JWT claims of a license: a sealed content's, and its type (`vct`)."""
    return {**registered_claims(content), "vct": VCT_PREFIX + content.license_code}


def withholds_items(read: ReadLicense) -> bool:
    """Whether a credential read back discloses fewer items than it signed digests for: a
    presentation's or a usage copy's selection, not the holder's whole credential."""
    if read.sd_jwt is None or read.claims is None or read.signed.content is None:
        return False
    return len(read.sd_jwt.disclosures) < len(read.claims["items"]["_sd"])


def content_of_own(text: str) -> LicenseContent:
    """The content of a credential (or a subset of it) the exchange itself made or stored, with
    its disclosed items; no signature check, so never for a text from outside."""
    credential = parse_sd_jwt(text)
    claims = json.loads(b64url_decode(credential.issuer_jwt.split(".")[1]))
    items = {name: value for _, name, value in map(decode_disclosure, credential.disclosures)}
    return LicenseContent.from_claims(claims, items)


class _LicenseIntegrityResult(CheckResult):
    """An integrity result of a license credential, with its messages from `INTEGRITY_MESSAGES`."""

    messages: ClassVar[Mapping[str, tuple[str, str]]] = INTEGRITY_MESSAGES


def integrity_result(code: str, **details: str) -> CheckResult:
    """The failed integrity result `code`, its messages written with `details` (see `INTEGRITY_MESSAGES`)."""
    return _LicenseIntegrityResult.of(Check.INTEGRITY, Status.INVALID, code, **details)


def read_license(text: str, trust: TrustStore, *, now: datetime) -> ReadLicense:
    """Verify the issuer's signature and the disclosures; never raises for bad input."""
    try:
        sd_jwt = parse_sd_jwt(text)
    except SdJwtError as error:
        return ReadLicense(SignedForm(integrity_only(integrity_result(error.code)), None), None, None)
    verification = verify_jws(sd_jwt.issuer_jwt, trust, now=now)
    verdict, claims = verification.verdict, verification.claims
    if claims is None or verification.header is None or verdict.result(Check.INTEGRITY).status is not Status.VALID:
        return ReadLicense(SignedForm(verdict, None), sd_jwt, None)
    try:
        if verification.header.get("typ") != LICENSE_TYP:
            raise InvalidContent(f"typ is not {LICENSE_TYP}")
        if claims.get("_sd_alg") != SD_ALG or not isinstance(claims.get("items"), dict):
            raise InvalidContent(f"_sd_alg is not {SD_ALG} or items are missing")
        items = disclosed_values(claims["items"].get("_sd"), sd_jwt.disclosures)
        content = LicenseContent.from_claims({key: claims.get(key) for key in LICENSE_CLAIMS}, items)
        expected = license_claims(content)
        if any(claims.get(key) != value for key, value in expected.items()) or ("exp" in claims) != ("exp" in expected):
            raise InvalidContent("the registered claims disagree with the content")
    except SdJwtError as error:
        failed = with_integrity(verdict, integrity_result(error.code, detail=error.detail))
        return ReadLicense(SignedForm(failed, None), sd_jwt, claims)
    except (InvalidContent, KeyError) as error:
        failed = with_integrity(verdict, integrity_result("not_a_license", detail=str(error)))
        return ReadLicense(SignedForm(failed, None), sd_jwt, claims)
    return ReadLicense(SignedForm(verdict, content), sd_jwt, claims)
