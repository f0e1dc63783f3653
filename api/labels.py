"""The Chinese labels of the edges that more than one page or command shows, in one place: how
the verification pages name a verdict's checks and their statuses (certificates and licenses),
how the commands that verify print a check's status (terse, one column), and the forms of a
license."""

from __future__ import annotations

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
                 "也可能不是本市的电子证明或电子证照。这并不说明它是伪造的：请让对方重新发送原始文件后再验证。")
"""The verifier pages' word on input that could not be read at all: no verdict on the document."""
