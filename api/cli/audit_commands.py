"""`mianzheng audit ...`: the auditor's check that the access log was not altered.

`audit verify` recomputes the whole hash chain (a long one in one process per CPU). Exit 0:
intact (the head is printed, to be recorded elsewhere as an anchor); exit 1: the first bad entry
is named on stderr.
"""

from __future__ import annotations

import click

from api.cli.context import CliError, settings
from exchange.access_log import ChainFault, ChainHead
from exchange.access_log_audit import verify_chain_in_processes
from exchange.errors import InvalidInput

FAULT_ZH = {
    ChainFault.MISSING_ENTRY: "缺失（条目被删除）",
    ChainFault.CONTENT_CHANGED: "内容与其摘要不符（条目被修改或调换位置）",
    ChainFault.BROKEN_LINK: "与前一条的链接断开（前一条被修改、替换，或顺序被调整）",
    ChainFault.HEAD_MISMATCH: "与锚定的链头不符（日志被截断或重写）",
    ChainFault.UNEXPECTED_ENTRY: "不应存在（编号在链首之前，条目被插入）",
}


@click.group("audit")
def audit_group() -> None:
    """访问日志审计。"""


@audit_group.command("verify")
@click.option("--head", "expected", default=None, metavar="SEQ:HASH",
              help="此前记录的链头（锚定值）；日志须仍包含这一条且摘要一致")
def verify_command(expected: str | None) -> None:
    """校验访问日志的哈希链：发现被修改、删除或调换顺序的条目，并指出第一条。"""
    try:
        anchor = ChainHead.parse(expected) if expected else None
    except InvalidInput:
        raise click.BadParameter("应为 序号:摘要，例如 42:9f86d0…（64 位十六进制）", param_hint="--head") from None
    verdict = verify_chain_in_processes(settings().database_url, expected_head=anchor)
    if not verdict.intact:
        assert verdict.fault is not None
        raise CliError(f"访问日志第 {verdict.first_bad_seq} 条{FAULT_ZH[verdict.fault]}；"
                       f"此前 {verdict.entries} 条完整。")
    if verdict.head is None:
        click.echo("访问日志为空，校验通过。")
        return
    anchored = "，且包含锚定的链头" if anchor else ""
    click.echo(f"访问日志完整：共 {verdict.entries} 条{anchored}。")
    click.echo(f"链头（可作为锚定值另行保存）：{verdict.head}")
