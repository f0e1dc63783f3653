"""The certificate verdict: the seal signature's verdict (from `seals`) plus certificate checks.

Composition, not extension: `seals.verdict` stays about signatures (integrity, chain,
seal_status, validity); this module adds the checks that only make sense for an e-certificate,
with their own codes and zh/en messages:

- issuer: the signing seal belongs to the issuer named in the certificate (its
  organizationIdentifier is NTRCN-<the issuer's USCC>), so one department's seal cannot issue
  in another's name; and, where the verifier knows the catalogs (`issuers`), that issuer is one
  the catalog has issue this kind of document under the name it bears (`issuer_not_competent`
  otherwise): a genuine seal cannot make a proof that is another department's to give; and a
  certificate reads as its proof's definition writes it (`content_not_catalogued` otherwise: a
  label, an item's text or the statement changed, another fact stated under the proof's name);
  offline, the exported trust
  material's signed list of issuers (`issuer_list`) answers for what was issued before it was
  signed, and leaves what was issued after it undecided (`issuer_not_in_list`);
- certificate_status: the certificate's bit in the signed status list it names (revoked, with reason);
- validity_window: the verification time lies in [valid_from, valid_until];
- holder_binding: an ID number given by the verifier matches the salted digest.

Form-level integrity failures (a PDF whose embedded credential is missing or disagrees, signed
content that is not a certificate) replace the seals integrity result, with codes from
`MESSAGES` here. Certificate checks run when integrity and chain are VALID (the content is
authentic and sealed under the city root), even if the seal status could not be decided (a
stale CRL), so such a verdict still says whether the certificate expired or was revoked; they
are SKIPPED otherwise, as the content they would judge cannot be trusted.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar

from catalog.citizen_id import parse_id_number
from catalog.errors import InvalidIdentifier
from exchange.certificates.issuer_list import IssuerList
from exchange.certificates.model import SealedFacts, format_datetime_zh
from exchange.certificates.status_list import REVOCATION_REASONS, StatusListError, StatusListSource, read_status_list
from core.validity import lapsed
from seals.checks import CLOCK_SKEW
from seals.trust import TrustStore
from seals.verdict import Check, CheckResult, SignerSummary, Status, Verdict

SEAL_ORGANIZATION_PREFIX = "NTRCN-"


class CertificateCheck(str, Enum):
    ISSUER = "issuer"
    CERTIFICATE_STATUS = "certificate_status"
    VALIDITY_WINDOW = "validity_window"
    HOLDER_BINDING = "holder_binding"


MESSAGES: dict[str, tuple[str, str]] = {
    # integrity, form level
    "not_a_certificate": ("签名内容的格式不正确，不是本市出具的电子证明。", "The signed content is not a valid e-certificate: {detail}."),
    "credential_missing": (
        "PDF 中未嵌入机读凭证（credential.jws）。",
        "The PDF carries no embedded machine-readable credential (credential.jws).",
    ),
    "credential_invalid": (
        "PDF 中嵌入的机读凭证未通过验证。",
        "The credential embedded in the PDF does not verify ({detail}).",
    ),
    "credential_mismatch": (
        "PDF 页面与其嵌入的机读凭证不一致。",
        "The PDF and its embedded credential disagree ({detail}).",
    ),
    "credential_seal_mismatch": (
        "PDF 文件的签章印章（{seal}）不是其嵌入的机读凭证的印章：证明须由出具单位以同一枚印章签章。",
        "The PDF is sealed by {seal}, not by the seal of its embedded credential.",
    ),
    # issuer
    "issuer_matches": ("签名印章属于证明载明的出具单位 {issuer}。", "The seal belongs to the issuer named on the certificate, {issuer}."),
    "issuer_mismatch": (
        "签名印章（{seal}）不属于证明载明的出具单位（{issuer}）。",
        "The signing seal ({seal}) does not belong to the issuer named on the certificate ({issuer}).",
    ),
    "issuer_not_competent": (
        "出具单位 {issuer} 不负责出具“{document}”（按本平台发布过的目录）：印章虽真，此证明不是该单位可以出具的。",
        "The issuer {issuer} does not issue {document} in any catalog this service published: the seal is "
        "genuine, but this certificate is not the issuer's to make.",
    ),
    "content_not_catalogued": (
        "证明的文字与本平台发布过的目录对“{document}”的规定不符（项目名称、项目内容或结论被改动过）：印章虽真，"
        "此证明不是按目录出具的。",
        "The certificate does not read as any catalog this service published defines {document} (an item's label "
        "or text, or the statement, was changed): the seal is genuine, but this is not a certificate as issued.",
    ),
    "issuer_not_in_list": (
        "信任材料中的出具单位清单（签发于 {signed_at}）未列出 {issuer} 出具“{document}”，而此证明出具于清单签发之后："
        "请重新导出信任材料后再核验。",
        "The issuer list of the trust material (signed {signed_at}) does not name {issuer} as issuing {document}, "
        "and this certificate was issued after it: export the trust material again and verify once more.",
    ),
    # certificate status
    "certificate_not_revoked": ("证明未被撤销。", "The certificate is not revoked."),
    "certificate_revoked": (
        "证明已被出具单位撤销（原因：{reason_zh}）。",
        "The certificate was revoked by its issuer (reason: {reason_en}).",
    ),
    "status_list_unavailable": (
        "未提供证明状态列表，无法检查证明是否被撤销。",
        "No status list was provided; revocation cannot be checked.",
    ),
    "status_list_invalid": ("证明状态列表的签名未通过验证。", "The status list's signature does not verify."),
    "status_list_not_by_exchange": (
        "证明状态列表不是由本市数据交换平台的印章签发的，不能据此确认证明是否被撤销。",
        "The status list is signed by a seal other than the exchange's; it says nothing of revocation.",
    ),
    "status_list_malformed": ("证明状态列表格式错误。", "The status list is malformed."),
    "status_list_stale": ("证明状态列表已过期，请获取最新列表。", "The status list is out of date; fetch a fresh one."),
    "status_list_unknown": (
        "证明所载的状态列表不是本平台的状态列表，无法确认证明是否被撤销。",
        "The status list the certificate names is not one of this service's lists; revocation cannot be checked.",
    ),
    "status_list_mismatch": (
        "所提供的状态列表不是本证明登记的状态列表（{list_url}）。",
        "The status list given is not the one the certificate names ({list_url}).",
    ),
    # validity window
    "within_certificate_validity": (
        "证明在有效期内（{valid_from} 至 {valid_until}）。",
        "The certificate is within its validity ({valid_from} to {valid_until}).",
    ),
    "within_certificate_validity_as_of": (
        "证明为截至 {as_of} 的查询结果，有效期至 {valid_until}。",
        "The certificate states a search result as of {as_of}; it is valid until {valid_until}.",
    ),
    "no_expiry": ("证明自 {valid_from} 起长期有效。", "The certificate is valid from {valid_from} without expiry."),
    "certificate_expired": ("证明已于 {valid_until} 过期。", "The certificate expired at {valid_until}."),
    "certificate_not_yet_valid": ("证明自 {valid_from} 起生效，尚未生效。", "The certificate is not valid before {valid_from}."),
    # holder binding
    "holder_matches": ("所提供的公民身份号码与证明持有人一致。", "The ID number given matches the certificate's holder."),
    "holder_mismatch": ("所提供的公民身份号码与证明持有人不一致。", "The ID number given does not match the certificate's holder."),
    "id_number_invalid": ("所提供的公民身份号码格式不正确。", "The ID number given is not a valid citizen ID number."),
    "holder_not_bound": (
        "该证照未载明或未披露持证人身份号码，未据此核验持证人；如需核对，请持证人亮证时披露身份号码，或查验其身份证件。",
        "The license does not state or disclose its holder's ID number; ask the holder to show that item, "
        "or their identity card.",
    ),
    "holder_not_checked": (
        "未提供持有人公民身份号码，未核验持有人。",
        "No ID number was given; the holder was not checked.",
    ),
    # shared
    "not_checked_signature": (
        "签名或证书链未通过验证，证明内容不可信，跳过此项检查。",
        "Skipped because the signature or its chain did not verify, so the content cannot be trusted.",
    ),
}


@dataclass(frozen=True)
class CertificateCheckResult(CheckResult):
    """A certificate-level check's result: the seals result shape, with this module's checks and messages."""

    check: CertificateCheck  # type: ignore[assignment]
    messages: ClassVar[Mapping[str, tuple[str, str]]] = MESSAGES


def messages_naming(noun_zh: str, noun_en: str) -> dict[str, tuple[str, str]]:
    """`MESSAGES` with the checked document named `noun_zh`/`noun_en` in place of 证明/certificate,
    for another kind of sealed document (a license) judged by the same checks."""
    return {code: (zh.replace("证明", noun_zh), en.replace("certificate", noun_en)) for code, (zh, en) in MESSAGES.items()}


IssuerCompetence = Callable[[SealedFacts], str | None]
"""Whether the issuer a document names may have made it as it reads, by the catalogs: None if so,
otherwise the issuer check's code (`published_documents.PublishedDocuments`)."""
"""Whether the department with this USCC issues documents of this catalog code."""


@dataclass(frozen=True)
class SignedForm:
    """What a form's verifier established: the seal signature's verdict and the decoded content."""

    signature: Verdict
    content: SealedFacts | None


@dataclass(frozen=True)
class CertificateVerdict:
    form: str
    """"pdf", "credential" or "qr"; "unknown" when the input is none of them."""
    signature: Verdict
    certificate_checks: tuple[CertificateCheckResult, ...]
    facts: SealedFacts | None
    """What the form states, as read; trust it only when `valid`."""
    revocation_reason: str | None = None

    @functools.cached_property
    def content(self) -> dict[str, Any] | None:
        """The decoded content (canonical form; the QR's is a subset); trust it only when `valid`.
        Written when first asked for: a caller that only wants the verdict does not pay for it."""
        return None if self.facts is None else self.facts.to_dict()

    @property
    def checks(self) -> tuple[CheckResult | CertificateCheckResult, ...]:
        return (*self.signature.checks, *self.certificate_checks)

    @property
    def status(self) -> Status:
        """INVALID if anything is INVALID; VALID if the signature and every certificate check
        that ran are VALID; ERROR otherwise (something could not be decided)."""
        ran = [result.status for result in self.certificate_checks if result.status is not Status.SKIPPED]
        if self.signature.status is Status.INVALID or Status.INVALID in ran:
            return Status.INVALID
        if self.signature.status is Status.VALID and all(status is Status.VALID for status in ran):
            return Status.VALID
        return Status.ERROR

    @property
    def valid(self) -> bool:
        return self.status is Status.VALID

    @property
    def signer(self) -> SignerSummary | None:
        return self.signature.signer

    def result(self, check: Check | CertificateCheck) -> CheckResult | CertificateCheckResult:
        return next(result for result in self.checks if result.check is check)

    def to_dict(self) -> dict[str, Any]:
        signature = self.signature.to_dict()
        return {
            "status": self.status.value,
            "form": self.form,
            "checks": [result.to_dict() for result in self.checks],
            "revocation_reason": self.revocation_reason,
            "signer": signature["signer"],
            "signing_time": signature["signing_time"],
            "signing_time_source": signature["signing_time_source"],
            "content": self.content,
        }


class _FormIntegrityResult(CheckResult):
    """An integrity result of the form (see the module) with its messages from this module."""

    messages: ClassVar[Mapping[str, tuple[str, str]]] = MESSAGES


def integrity_failure(code: str, **details: Any) -> CheckResult:
    """A form-level INVALID integrity result with a message from this module."""
    return _FormIntegrityResult.of(Check.INTEGRITY, Status.INVALID, code, **details)


def with_integrity(verdict: Verdict, integrity: CheckResult) -> Verdict:
    """`verdict` with its integrity result replaced."""
    checks = tuple(integrity if result.check is Check.INTEGRITY else result for result in verdict.checks)
    return dataclasses.replace(verdict, checks=checks)


def authentic(verdict: Verdict) -> bool:
    """Whether integrity and chain are VALID: the content is what a seal of the city root signed."""
    return all(verdict.result(check).status is Status.VALID for check in (Check.INTEGRITY, Check.CHAIN))


def judge(
    form: str,
    signed: SignedForm,
    trust: TrustStore,
    status_lists: str | StatusListSource | None,
    *,
    id_number: str | None,
    now: datetime,
    exchange_uscc: str | None = None,
    issuers: IssuerCompetence | None = None,
    results: type[CertificateCheckResult] = CertificateCheckResult,
) -> CertificateVerdict:
    """Add the certificate checks to a form's signature verdict. `status_lists` is the one signed
    list the verifier holds, or where it finds the list the certificate names, or None; a list
    counts only when the seal of `exchange_uscc` signed it (see `read_status_list`). `issuers`:
    whether a department (by USCC) issues a kind of document (by catalog code) under the name it
    bears, where the verifier knows the catalogs; without it the issuer check only matches the seal to the issuer
    named. `results` words the checks (a subclass with `messages_naming` for another kind of document)."""
    content = signed.content
    if content is None or not authentic(signed.signature):
        skipped = tuple(results.of(check, Status.SKIPPED, "not_checked_signature") for check in CertificateCheck)
        return CertificateVerdict(form, signed.signature, skipped, content)
    status, reason = _certificate_status(content, trust, status_lists, now, exchange_uscc, results)
    checks = (
        _issuer(content, signed.signature.signer, issuers, results),
        status,
        _validity_window(content, now, results),
        _holder_binding(content, id_number, results),
    )
    return CertificateVerdict(form, signed.signature, checks, content, reason)


def _issuer(content: SealedFacts, signer: SignerSummary | None, issuers: IssuerCompetence | None,
            results: type[CertificateCheckResult]) -> CertificateCheckResult:
    seal = None if signer is None else signer.organization_identifier
    issuer = f"{content.issuer.name_zh} {content.issuer.uscc}"
    if seal != SEAL_ORGANIZATION_PREFIX + content.issuer.uscc:
        shown = (signer.organization if signer else None) or "?"
        return results.of(
            CertificateCheck.ISSUER, Status.INVALID, "issuer_mismatch", seal=f"{shown} {seal}", issuer=issuer
        )
    refused = None if issuers is None else issuers(content)
    if refused is not None:
        if isinstance(issuers, IssuerList) and not issuers.knows_of(content.issued_at):
            return results.of(CertificateCheck.ISSUER, Status.ERROR, "issuer_not_in_list", issuer=issuer,
                              document=content.document_name_zh, signed_at=format_datetime_zh(issuers.signed_at))
        return results.of(CertificateCheck.ISSUER, Status.INVALID, refused, issuer=issuer,
                          document=content.document_name_zh)
    return results.of(CertificateCheck.ISSUER, Status.VALID, "issuer_matches", issuer=issuer)


def _certificate_status(
    content: SealedFacts, trust: TrustStore, status_lists: str | StatusListSource | None, now: datetime,
    exchange_uscc: str | None, results: type[CertificateCheckResult],
) -> tuple[CertificateCheckResult, str | None]:
    """The status check; a source that knows every list there is (the installation's own store)
    raises `StatusListError` for a list it does not have, which is then undecided, never skipped."""
    check = CertificateCheck.CERTIFICATE_STATUS
    try:
        token = status_lists(content.status.list_url) if callable(status_lists) else status_lists
        if token is None:
            return results.of(check, Status.SKIPPED, "status_list_unavailable"), None
        status_list = read_status_list(token, trust, now=now, signer_uscc=exchange_uscc)
    except StatusListError as error:
        return results.of(check, Status.ERROR, error.code), None
    if not status_list.names(content.status.list_url):
        return results.of(check, Status.ERROR, "status_list_mismatch", list_url=content.status.list_url), None
    try:
        reason = status_list.reason(content.status.index)
    except IndexError:
        return results.of(check, Status.ERROR, "status_list_malformed"), None
    if reason is None:
        return results.of(check, Status.VALID, "certificate_not_revoked"), None
    zh, en = REVOCATION_REASONS.get(reason, REVOCATION_REASONS["unspecified"])
    return results.of(check, Status.INVALID, "certificate_revoked", reason_zh=zh, reason_en=en), reason


def _validity_window(content: SealedFacts, now: datetime, results: type[CertificateCheckResult]) -> CertificateCheckResult:
    check = CertificateCheck.VALIDITY_WINDOW
    if now + CLOCK_SKEW < content.valid_from:  # a verifier's clock a little behind the issuer's, as for its seal
        return results.of(check, Status.INVALID, "certificate_not_yet_valid",
                          valid_from=format_datetime_zh(content.valid_from))
    if content.valid_until is None:
        return results.of(check, Status.VALID, "no_expiry", valid_from=format_datetime_zh(content.valid_from))
    valid_until = format_datetime_zh(content.valid_until)
    if lapsed(content.valid_until, now):
        return results.of(check, Status.INVALID, "certificate_expired", valid_until=valid_until)
    if content.as_of is not None:
        return results.of(
            check,
            Status.VALID,
            "within_certificate_validity_as_of",
            as_of=format_datetime_zh(content.as_of),
            valid_until=valid_until,
        )
    return results.of(
        check, Status.VALID, "within_certificate_validity", valid_from=format_datetime_zh(content.valid_from),
        valid_until=valid_until,
    )


def _holder_binding(content: SealedFacts, id_number: str | None,
                    results: type[CertificateCheckResult]) -> CertificateCheckResult:
    check = CertificateCheck.HOLDER_BINDING
    if id_number is None:
        return results.of(check, Status.SKIPPED, "holder_not_checked")
    shown = content.holder_number_disclosed
    if content.holder_binding is None and shown is None:
        return results.of(check, Status.SKIPPED, "holder_not_bound")
    try:
        number = parse_id_number(id_number).number
    except InvalidIdentifier:
        return results.of(check, Status.INVALID, "id_number_invalid")
    if content.holder_binding.matches(number) if content.holder_binding is not None else (shown or "").upper() == number:
        return results.of(check, Status.VALID, "holder_matches")
    return results.of(check, Status.INVALID, "holder_mismatch")
