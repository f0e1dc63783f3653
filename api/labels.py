"""The Chinese labels of the edges that more than one page or command shows, in one place: how
the verification pages name a verdict's checks and their statuses (certificates and licenses),
how the commands that verify print a check's status (terse, one column), and the forms of a
license, the outcome of a license's verdict (`license_outcome`) and the license it names
(`named_license`)."""

from __future__ import annotations

from typing import Any

from exchange.licenses.verdict import LicenseVerdict
from seals.verdict import Status

CHECK_NAMES_ZH = {
    "integrity": "内容完整性", "chain": "印章证书链", "seal_status": "印章状态", "validity": "印章证书有效期",
    "issuer": "出具单位", "certificate_status": "证明状态（是否撤销）", "validity_window": "证明有效期",
    "holder_binding": "持有人核验",
}
"""The checks of a certificate's verdict as the pages name them."""

CHECK_STATUS_ZH = {Status.VALID: "通过", Status.INVALID: "未通过", Status.SKIPPED: "未检查", Status.ERROR: "无法确认"}
"""A check's status as the verification pages show it."""

VERDICT_STATUS_ZH = {Status.VALID: "通过", Status.INVALID: "不通过", Status.SKIPPED: "跳过", Status.ERROR: "出错"}
"""A check's status as the verifying commands print it."""

LICENSE_FORMS_ZH = {"license": "电子证照凭证", "presentation": "亮证", "usage_copy": "加注件（用证副本）",
                    "unknown": "无法识别"}
"""The form of a license that was verified, as the verification page and the command name it."""

UNREADABLE_ZH = ("无法读取所提供的内容：文件或文本可能不完整、已损坏（如下载未完成、经聊天软件转发被截断），"
                 "也可能不是本市的电子证明或电子证照。这并不说明它是伪造的：请让对方重新发送原始文件后再核验。")
"""The verifier pages' word on input that could not be read at all: no verdict on the document."""

LICENSE_CHECK_NAMES_ZH = {
    **CHECK_NAMES_ZH, "certificate_status": "证照状态（是否撤销、换发）", "validity_window": "证照有效期",
    "presentation_binding": "亮证绑定", "presentation_freshness": "亮证时效", "nonce": "一次性核验",
    "usage_seal": "加注件印章", "usage_window": "加注件有效期", "pdf_signature": "PDF 文件签章",
}
"""The checks of a license's verdict as the page and the command name them."""

UNREADABLE_CODES = frozenset({"pdf_unreadable", "not_an_sd_jwt", "malformed"})
"""Codes of input that could not be read at all: a damaged file, text that is no license form."""


def named_license(verdict: LicenseVerdict) -> dict[str, Any] | None:
    """What names the license a verdict is about (its type, number, version, issuer and holder;
    `content` of the verdict document), as the page and `mianzheng license verify` show it: when
    it is valid, and when its issuer revoked or superseded it, so a verifier told 已撤销 or 已换发
    knows which license to ask the holder about. Never for a form whose seal did not check."""
    document = verdict.to_dict()
    return document["content"] if verdict.valid or document["revocation_reason"] else None


def license_outcome(verdict: LicenseVerdict) -> tuple[tuple[str, str, str], str]:
    """((label, English label, kind), explanation) of a license's verdict, as the verification
    page and `mianzheng license verify` state it: 有效, 已换发 / 已撤销, 无法读取, 已核验过, 无效 or
    无法确认, each with what it means."""
    document = verdict.to_dict()
    reason = document["revocation_reason"]
    failed = [check for check in document["checks"] if check["status"] in (Status.INVALID.value, Status.ERROR.value)]
    if verdict.status is Status.VALID:
        return ("有效", "VALID", "valid"), "这是一份真实、有效的电子证照，内容与出具时一致。"
    if reason:
        return (("已换发" if reason == "superseded" else "已撤销", "REVOKED", "revoked"),
                "该电子证照已被发证机关撤销或换发，不能再作为有效证照使用。")
    if any(check["code"] in UNREADABLE_CODES for check in failed):  # nothing could be read: no verdict on it
        return ("无法读取", "UNREADABLE", "unreadable"), UNREADABLE_ZH
    if [check["code"] for check in failed] == ["nonce_reused"]:  # a reload of the verdict asks again
        return (("已核验过", "USED", "error"),
                "这份亮证已经核验过一次（亮证只能核验一次），本次不再给出结论。如需再次核验，请持证人重新亮证。")
    if verdict.status is Status.INVALID:
        return ("无效", "INVALID", "invalid"), f"未通过核验，不能作为有效证照使用：{failed[0]['message_zh']}"
    return ("无法确认", "ERROR", "error"), f"暂时无法确认该电子证照是否有效：{failed[0]['message_zh']}"
