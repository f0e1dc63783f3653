"""The verdict on a license in any of its forms: the e-certificates' verdict on the license
credential (`exchange.certificates.verdict.judge`: signature, chain, seal status, issuer,
status list, validity window, holder binding), plus the checks of the form that carries it:

- a presentation (亮证): `presentation_binding` (the binding JWT is the exchange's, over exactly
  these disclosures of exactly this license), `presentation_freshness` (shown within its
  minutes), `nonce` (its nonce is used for the first time);
- a usage copy (加注件): `usage_seal` (sealed by the exchange) and `usage_window` (within the use's
  expiry); the verdict carries the use (matter, department, purpose, until) so a verifier sees
  that the copy is valid only for that use;
- either of the two inside a signed PDF: `pdf_signature` (the PAdES signature, by the seal that
  signed the attachment, over a page that states the attachment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from exchange.certificates.verdict import CertificateCheckResult, CertificateVerdict, messages_naming
from exchange.licenses.sd_jwt import SEPARATOR
from seals.verdict import CheckResult, Status

FORM_LICENSE, FORM_PRESENTATION, FORM_USAGE_COPY, FORM_UNKNOWN = "license", "presentation", "usage_copy", "unknown"
LICENSE_ATTACHMENT = "license.sd-jwt"
USAGE_ATTACHMENT = "usage-copy.jws"
"""The names under which a license's PDF and a usage copy's carry their machine form."""


def is_license_form(form: str | bytes) -> bool:
    """Whether `form` has an e-license's shape, before any check: a PDF with a license or usage
    copy attached, or text with the SD-JWT separator (a license, a 亮证). A pasted
    usage copy is a JWS as a certificate's credential is: only the licenses' page takes it."""
    if isinstance(form, bytes):
        from exchange.licenses.pdf import carries_license  # the PDF stack loads on first use

        return carries_license(form)
    return SEPARATOR in form


class LicenseCheck(str, Enum):
    PRESENTATION_BINDING = "presentation_binding"
    PRESENTATION_FRESHNESS = "presentation_freshness"
    NONCE = "nonce"
    USAGE_SEAL = "usage_seal"
    USAGE_WINDOW = "usage_window"
    PDF_SIGNATURE = "pdf_signature"


MESSAGES: dict[str, tuple[str, str]] = {
    "binding_valid": ("亮证由本市数据交换平台为该证照的持证人生成，披露项未被增删。",
                      "The exchange made this presentation for the license's holder; no disclosure was added or removed."),
    "binding_missing": ("亮证缺少绑定签名。", "The presentation has no binding JWT."),
    "binding_invalid": ("亮证的绑定签名未通过验证。", "The presentation's binding JWT does not verify ({detail})."),
    "binding_mismatch": ("亮证的绑定签名与所出示的内容不符。",
                         "The binding JWT does not match what is disclosed ({detail})."),
    "presentation_fresh": ("亮证在有效时间内（至 {until}）。", "The presentation is within its time (until {until})."),
    "presentation_expired": ("亮证已于 {until} 过期，请持证人重新亮证。",
                             "The presentation expired at {until}; ask the holder to show the license again."),
    "presentation_not_yet_valid": ("亮证的生成时间晚于当前时间。", "The presentation was made in the future."),
    "nonce_first_use": ("一次性随机数首次使用。", "The nonce is used for the first time."),
    "nonce_reused": ("该亮证已被核验过（一次性随机数重复使用），请持证人重新亮证。",
                     "This presentation was already checked (its nonce is reused); ask the holder to show the license again."),
    "nonce_mismatch": ("亮证所含的一次性随机数不是核验方给出的：该亮证不是向本核验方出示的，请持证人按核验方给出的随机数重新亮证。",
                       "The presentation's nonce is not the one the verifier gave: it was not made for this "
                       "verifier; ask the holder to show the license again with the verifier's nonce."),
    "nonce_not_checked": ("离线核验无法检查一次性随机数是否已被使用。",
                          "An offline check cannot tell whether the nonce was used before."),
    "usage_sealed": ("加注件由本市数据交换平台盖章，仅限{department}办理“{matter}”使用。",
                     "The usage copy is sealed by the exchange, for {department} handling {matter} only."),
    "usage_seal_invalid": ("加注件的签名未通过验证。", "The usage copy's seal does not verify ({detail})."),
    "usage_malformed": ("加注件的格式不正确，无法读取。", "The usage copy is malformed: {detail}."),
    "usage_not_by_exchange": ("加注件不是由本市数据交换平台盖章的（盖章单位：{signer}），不能作为用证凭据。",
                              "The usage copy is sealed by {signer}, not by the exchange."),
    "usage_within": ("加注件在用证有效期内（至 {until}）。", "The usage copy is within its use's validity (until {until})."),
    "usage_expired": ("加注件已于 {until} 失效。", "The usage copy expired at {until}."),
    "pdf_sealed": ("PDF 文件由{signer}以电子印章签章，页面与所附机读件一致，签章后未被改动。",
                   "The PDF is signed by {signer}'s seal, its page states its attachment and is unchanged since."),
    "pdf_signature_invalid": ("PDF 文件的签名未通过验证：{reason_zh}", "The PDF's signature does not verify ({detail})."),
    "pdf_attachment_missing": ("PDF 文件未附带机读电子证照或加注件。", "The PDF carries no license or usage copy."),
    "pdf_unreadable": ("无法读取 PDF 文件：文件可能不完整或已损坏。", "The PDF cannot be read: it may be cut short or damaged."),
    "pdf_mismatch": ("PDF 文件与所附机读件不符（页面、所附内容或印章不一致）。",
                     "The PDF does not agree with its attachment ({detail})."),
    "not_checked_license": ("证照本身未通过核验，跳过此项检查。", "Skipped because the license itself did not verify."),
    "not_checked_binding": ("亮证绑定或亮证时效未通过核验，跳过此项检查。", "Skipped because the presentation's binding did not verify."),
}


@dataclass(frozen=True)
class LicenseCheckResult(CheckResult):
    check: LicenseCheck  # type: ignore[assignment]
    messages: ClassVar[Mapping[str, tuple[str, str]]] = MESSAGES


@dataclass(frozen=True)
class LicenseCredentialCheckResult(CertificateCheckResult):
    """The e-certificates' checks on the license inside a form, in words that name a license."""

    messages: ClassVar[Mapping[str, tuple[str, str]]] = messages_naming("证照", "license")


@dataclass(frozen=True)
class LicenseVerdict:
    form: str
    license: CertificateVerdict
    form_checks: tuple[LicenseCheckResult, ...] = ()
    items: tuple[dict[str, Any], ...] = ()
    """The disclosed items with labels and display text (trust them only when VALID)."""
    usage: dict[str, Any] | None = None
    """A usage copy's use: matter, department, purpose, used_at, valid_until."""
    pdf: bool = False
    """Whether the form came inside a signed PDF (its check is `pdf_signature`)."""

    @property
    def status(self) -> Status:
        ran = [result.status for result in self.form_checks if result.status is not Status.SKIPPED]
        if self.license.status is Status.INVALID or Status.INVALID in ran:
            return Status.INVALID
        if self.license.status is Status.VALID and all(status is Status.VALID for status in ran):
            return Status.VALID
        return Status.ERROR

    @property
    def valid(self) -> bool:
        return self.status is Status.VALID

    def to_dict(self) -> dict[str, Any]:
        """The verdict document; the disclosed items only in `items` (ID numbers masked), not in `content`."""
        base = self.license.to_dict()
        content = None if base["content"] is None else {k: v for k, v in base["content"].items() if k != "items"}
        return {
            **base,
            "content": content,
            "status": self.status.value,
            "form": self.form,
            "checks": [*base["checks"], *(result.to_dict() for result in self.form_checks)],
            "items": list(self.items),
            "usage": self.usage,
            "pdf": self.pdf,
        }
