"""The verification verdict: one result per check, each with a stable code and zh/en messages.

Checks: integrity, chain (to the configured city root), seal_status (CRL at signing time),
validity (certificate validity window at signing time). The overall verdict is VALID only
when every check that was not skipped is VALID and at least one check ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cached_property, lru_cache
from typing import Any, ClassVar, Self


class Status(str, Enum):
    VALID = "VALID"
    INVALID = "INVALID"
    SKIPPED = "SKIPPED"
    ERROR = "ERROR"


class Check(str, Enum):
    INTEGRITY = "integrity"
    CHAIN = "chain"
    SEAL_STATUS = "seal_status"
    VALIDITY = "validity"


MESSAGES: dict[str, tuple[str, str]] = {
    # integrity
    "signature_valid": ("签名完整，内容未被篡改。", "The signature is intact; the content was not altered."),
    "signature_valid_benign_update": (
        "签名完整；签名后仅追加了不改变内容的增量更新（如时间戳、验证信息）。",
        "The signature is intact; only an incremental update that does not change content was appended.",
    ),
    "malformed": ("无法读取待验证的数据：文件或文本不完整、已损坏，或不是电子证明。", "The input cannot be parsed: {detail}."),
    "not_signed": ("文件中没有数字签名。", "The document carries no digital signature."),
    "alg_not_allowed": (
        "签名算法 {alg} 不被接受（仅接受 ES256、PS256）。",
        "Signature algorithm {alg} is not accepted (only ES256 and PS256 are).",
    ),
    "key_alg_mismatch": (
        "证书公钥类型与签名算法 {alg} 不符。",
        "The certificate's key type does not match the signature algorithm {alg}.",
    ),
    "kid_mismatch": ("签名所指的印章与签名所附的印章证书不符。", "The kid does not identify the signing certificate."),
    "certificate_missing": (
        "签名未携带印章证书，所指的印章也不是本市已知的电子印章。",
        "The signature carries no certificate and its kid names no known seal.",
    ),
    "seal_not_in_trust": (
        "签名所指的印章不在所用的信任材料中，可能是信任材料导出后新启用的印章，不能据此认定无效："
        "请重新导出信任材料（mianzheng seal export-trust）后再核验，或在线核验。",
        "The kid names no seal in this exported trust material, which may predate the seal: export it again "
        "or verify online.",
    ),
    "signature_mismatch": ("签名值校验失败。", "The signature value does not verify."),
    "digest_mismatch": (
        "文件内容与签名时不一致（摘要不符）。",
        "The document content differs from what was signed (digest mismatch).",
    ),
    "modified_after_signing": (
        "签名后文件被修改（例如用其他软件编辑、批注或另存过），请向持有人索取出具时的原始文件。",
        "The document was modified after signing: {detail}.",
    ),
    # chain
    "chain_valid": (
        "签名证书由本市电子印章根证书签发。",
        "The signing certificate was issued by the city's seal root.",
    ),
    "untrusted_root": (
        "签名证书不是由本市电子印章根证书签发的。",
        "The signing certificate was not issued by the city's seal root.",
    ),
    "not_a_seal_certificate": (
        "签名证书不是电子印章证书。",
        "The signing certificate is not a seal certificate ({detail}).",
    ),
    # seal status
    "seal_good": ("印章证书未被吊销。", "The seal certificate is not revoked."),
    "revoked_after_signing": (
        "印章证书于 {revoked_at_zh} 吊销，晚于签名时间，签名仍然有效。",
        "The seal certificate was revoked at {revoked_at}, after the signing time; the signature stays valid.",
    ),
    "seal_revoked": (
        "印章证书已于 {revoked_at_zh} 吊销，早于签名时间。",
        "The seal certificate was revoked at {revoked_at} (reason: {reason}), before the signing time.",
    ),
    "seal_revoked_key_compromise": (
        "印章证书因密钥泄露于 {revoked_at_zh} 吊销，签名时间未经可信时间戳证明早于吊销。",
        "The seal key was revoked as compromised at {revoked_at}; no trusted time-stamp proves the signature is older.",
    ),
    "crl_unavailable": (
        "未提供证书吊销列表，无法检查印章状态。",
        "No CRL was provided; the seal status cannot be checked.",
    ),
    "crl_invalid": ("证书吊销列表的签名无效或签发者不符。", "The CRL's signature or issuer is invalid."),
    "crl_stale": (
        "证书吊销列表已过期（下次更新时间 {next_update_zh}）。",
        "The CRL is out of date (next update was due {next_update}).",
    ),
    # validity
    "within_validity": (
        "签名时间 {signing_time_zh} 在证书有效期内。",
        "The signing time {signing_time} lies within the certificate's validity.",
    ),
    "outside_validity": (
        "签名时间 {signing_time_zh} 不在证书有效期（{not_before_zh} 至 {not_after_zh}）内。",
        "The signing time {signing_time} lies outside the certificate's validity ({not_before} to {not_after}).",
    ),
    "signing_time_in_future": (
        "签名时间 {signing_time_zh} 晚于当前时间。",
        "The signing time {signing_time} is in the future.",
    ),
    "signing_time_missing": (
        "签名未声明签名时间，按验证时间 {signing_time_zh} 判断。",
        "The signature states no signing time; the verification time {signing_time} was used.",
    ),
    # shared
    "not_checked_chain": (
        "证书链未通过，跳过此项检查。",
        "Skipped because the certificate chain was not established.",
    ),
    "not_checked_no_certificate": (
        "未能取得签名证书，跳过此项检查。",
        "Skipped because no signing certificate could be established.",
    ),
    "internal_error": ("验证过程出错，请稍后重试。", "Verification failed with an internal error; try again later."),
}


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: Status
    code: str
    details: tuple[tuple[str, Any], ...] = ()
    """What the messages name, as (name, value) pairs in the order given."""

    messages: ClassVar[Mapping[str, tuple[str, str]]] = MESSAGES
    """The (Chinese, English) message templates by code; a subclass with checks or codes of its
    own brings its own."""

    @classmethod
    def of(cls, check: Enum, status: Status, code: str, **details: Any) -> Self:
        """A result whose messages come from `messages[code]` with `details`; `check` is one of
        this class's checks. The messages are written when first read (most verifications are
        judged by their statuses alone). A result without details is one of a few fixed values,
        made once (results are immutable)."""
        if not details:
            return _fixed_result(cls, check, status, code)
        if code not in cls.messages:
            raise KeyError(code)
        return cls(check, status, code, tuple(details.items()))  # type: ignore[arg-type]

    @cached_property
    def message_zh(self) -> str:
        return self.messages[self.code][0].format(**dict(self.details))

    @cached_property
    def message_en(self) -> str:
        return self.messages[self.code][1].format(**dict(self.details))

    def to_dict(self) -> dict[str, str]:
        return {
            "check": self.check.value,
            "status": self.status.value,
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


@lru_cache(maxsize=1024, typed=True)
def _fixed_result(cls: type[CheckResult], check: Enum, status: Status, code: str) -> CheckResult:
    """`CheckResult.of` without details (a pure function of codes our own modules name)."""
    if code not in cls.messages:
        raise KeyError(code)
    return cls(check, status, code)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SignerSummary:
    """Who signed, as read from the signing certificate (present even when checks fail)."""

    subject: str
    organization: str | None
    organization_identifier: str | None
    serial_number: str
    kid: str


@dataclass(frozen=True)
class Verdict:
    checks: tuple[CheckResult, ...]
    signer: SignerSummary | None = None
    signing_time: datetime | None = None
    signing_time_source: str | None = None
    """"timestamp" (a trusted RFC 3161 token), "claimed" (iat, /M) or "verification_time"."""

    @property
    def status(self) -> Status:
        ran = [result.status for result in self.checks if result.status is not Status.SKIPPED]
        if not ran:
            return Status.INVALID
        if all(status is Status.VALID for status in ran):
            return Status.VALID
        if Status.INVALID in ran:
            return Status.INVALID
        return Status.ERROR

    @property
    def valid(self) -> bool:
        return self.status is Status.VALID

    def result(self, check: Check) -> CheckResult:
        return next(result for result in self.checks if result.check is check)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "checks": [result.to_dict() for result in self.checks],
            "signer": None if self.signer is None else self.signer.__dict__.copy(),
            "signing_time": None if self.signing_time is None else self.signing_time.isoformat(),
            "signing_time_source": self.signing_time_source,
        }
