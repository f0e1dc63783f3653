"""`mianzheng audit ...`: the auditor's check that the access log was not altered, and the operations it records.

`audit verify` recomputes the whole hash chain (a long one in one process per CPU), then compares
every consent's row with what the chain records of it, and the catalog versions and revoked rows
with the operations it records. Exit 0: intact and in agreement (the head is printed, to be
recorded elsewhere as an anchor); exit 1: the first bad entry, or the consents or rows that were
changed, is named on stderr. `audit operations` lists the newest operations and who made them.
The anchor is a head recorded earlier
(`--head SEQ:HASH`) or a head the exchange's seal signed (`--signed-head FILE`, as
`GET /api/v1/trust/access-log-head` gives it, checked against exported trust material).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from api.cli.context import CliError, database_session, settings
from api.cli.offline_trust_input import load_offline_trust_of_exchange
from catalog.city_time import SECONDS, beijing_time
from exchange.access_log import AccessRecord, ChainFault, ChainHead
from exchange.access_log_heads import SignedHead, read_signed_head
from exchange.access_log_audit import verify_chain_in_processes
from exchange.clients import CREDENTIAL_OPERATIONS
from exchange.consent import check_consents_against_chain
from exchange.errors import InvalidInput
from exchange.certificates.status_list import REVOCATION_REASONS
from exchange.operation_codes import OPERATION_ZH, Operation
from exchange.operations_audit import check_operations_against_chain, recent_operations
from exchange.status_lists import published_indexes
from seals.ca import RevocationReason

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
@click.option("--signed-head", "signed_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="此前取得的、由交换平台印章签发的链头（GET /api/v1/trust/access-log-head 的答复或其中的 signed_head）")
@click.option("--trust", "trust_dir", default=None, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="核验 --signed-head 所用的信任材料目录（mianzheng seal export-trust 导出）")
def verify_command(expected: str | None, signed_file: Path | None, trust_dir: Path | None) -> None:
    """校验访问日志的哈希链：发现被修改、删除或调换顺序的条目，并指出第一条。"""
    if expected and signed_file:
        raise click.UsageError("--head 与 --signed-head 只能给出一个。")
    try:
        anchor = ChainHead.parse(expected) if expected else None
    except InvalidInput:
        raise click.BadParameter("应为 序号:摘要，例如 42:9f86d0…（64 位十六进制）", param_hint="--head") from None
    signed = _signed_head(signed_file, trust_dir) if signed_file else None
    if signed is not None:
        anchor = signed.head
        click.echo(f"链头签名有效：交换平台于 {beijing_time(signed.signed_at, SECONDS)}（北京时间）签发，第 {anchor.seq} 条。")
    verdict = verify_chain_in_processes(settings().database_url, expected_head=anchor)
    if not verdict.intact:
        assert verdict.fault is not None
        if verdict.fault is ChainFault.HEAD_MISMATCH:  # a rewrite that recomputed every hash reaches below the anchor
            raise CliError(f"访问日志第 {verdict.first_bad_seq} 条{FAULT_ZH[verdict.fault]}；此前 {verdict.entries} 条"
                           "首尾衔接，但无法证明未被一并重写，请以更早保存的链头或备份核对。")
        # a broken link means the entry before it was edited (its own hash recomputed): not intact either
        intact = verdict.entries - 1 if verdict.fault is ChainFault.BROKEN_LINK else verdict.entries
        raise CliError(f"访问日志第 {verdict.first_bad_seq} 条{FAULT_ZH[verdict.fault]}；"
                       f"此前 {max(intact, 0)} 条完整。")
    if verdict.head is None:  # nothing to compare: a new installation's log, or one emptied
        click.echo("访问日志为空。未与另行保存的链头核对：日志若曾有条目后被整体删除，仅凭本次校验无法发现；"
                   "请以此前保存的链头核对（--head 或 --signed-head）。")
        _raise_if_any(_consents_line(), _operations_line())
        return
    if anchor is not None and anchor.seq < verdict.head.seq:  # what follows the anchor is only linked up
        click.echo(f"访问日志第 1–{anchor.seq} 条与锚定的链头一致；其后 {verdict.head.seq - anchor.seq} 条"
                   "首尾衔接，尚未经锚定（须以其后保存的链头核对）。")
    else:
        anchored = "，且包含锚定的链头" if anchor else ""
        click.echo(f"访问日志完整：共 {verdict.entries} 条{anchored}。")
    consents = _consents_line()  # before the head, which stays the last line
    operations = _operations_line()
    if anchor is not None and anchor.seq == verdict.head.seq:
        click.echo(f"链头（可作为锚定值另行保存）：{verdict.head}")
    else:  # kept unchecked, a head over entries rewritten since the anchor would vouch for them next time
        click.echo("下列链头所涵盖的条目未经锚定，须先与此前另行保存的链头（如当时取得并保存的平台签发链头；"
                   "现在取得的签发链头只反映数据库的现状）核对一致后，再作为锚定值保存。")
        click.echo(f"链头：{verdict.head}")
    _raise_if_any(consents, operations)


def _raise_if_any(*errors: CliError | None) -> None:
    """End with the errors found, each on a line of its own ("错误：" starts the first)."""
    found = [error.message for error in errors if error is not None]
    if found:
        raise CliError("\n错误：".join(found))


def _consents_line() -> CliError | None:
    """The consents' rows against the chain, said when they agree; the error to end with when
    they do not. The exchange relies on the chain, so a row changed by hand gives nothing away,
    but the auditor is told."""
    with database_session() as session:
        found = check_consents_against_chain(session)
    if not found.differing:
        click.echo(f"授权记录：{found.kept} 条均与访问日志中的授权、撤回记录一致。")
        return None
    return CliError(f"授权表有 {found.differing} 处与访问日志不符（授权表共 {found.kept} 条）："
                    f"{found.unrecorded} 条在日志中没有条件相同的授权记录，{found.end_undone} 条日志记载已撤回或已随申请"
                    f"结束而授权表未记载，{found.withdrawn_beside} 条仅授权表记载已撤回，{found.rows_missing} 项日志记载的"
                    "授权在授权表中已不存在。交换平台只按日志中的记录认定授权，不会据此放行；请核查对授权表的改动。")


def _operations_line() -> CliError | None:
    """The catalog versions, the revoked rows, the stored status lists and CRL against the
    operations the chain records, said when they agree; the error to end with when they do not."""
    with database_session() as session:
        found = check_operations_against_chain(session, lambda list_id: published_indexes(session, list_id))
    if not found.differing:
        click.echo(f"操作记录：{found.versions} 个目录版本均与访问日志中的发布记录一致，日志记载的 {found.revocations} 项"
                   "撤销、吊销在各表中均仍有效，部门业务系统均与日志中的登记记录一致。")
        return None
    return CliError(f"操作记录有 {found.differing} 处与访问日志不符：{found.versions_unrecorded} 个目录版本与日志中的发布记录"
                    f"不同或没有发布记录，{found.versions_missing} 个日志记载发布的目录版本已不存在，"
                    f"{found.revocations_undone} 项日志记载的撤销、吊销（电子证明、电子证照、电子印章或部门业务系统）在表中"
                    f"已被撤回，或状态列表、吊销列表中已不再列出，{found.clients_unrecorded} 个部门业务系统在日志中没有登记"
                    "记录，或其所属部门、权限、令牌与日志记载不同（交换平台只按日志记载认证其令牌）。业务系统按日志拒绝，电子证明和证照的状态列表按日志保留撤销；"
                    "吊销列表已不列出的印章须由印章管理员重新吊销。请核查对这些表的改动。")


@audit_group.command("operations")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="列出最近的多少条")
def operations_command(limit: int) -> None:
    """列出访问日志中最近的操作记录（撤销、签发、印章、业务系统、目录发布）及操作者，新者在前。"""
    with database_session() as session:
        entries = recent_operations(session, limit)
    if not entries:
        click.echo("访问日志中没有操作记录。")
    for entry in entries:
        target = f"导出文件第 {entry.case_number} 行" if entry.reason == Operation.LICENSES_IMPORTED else entry.case_number
        click.echo("  ".join(part for part in (
            f"第 {entry.seq} 条", beijing_time(entry.recorded_at, SECONDS), OPERATION_ZH[entry.reason or ""],
            target or "", f"部门：{entry.consumer_department}" if entry.consumer_department else "",
            f"操作者：{_actor_zh(entry)}", _detail_zh(entry.reason or "", entry.purpose or "")) if part))


def _detail_zh(operation: str, detail: str) -> str:
    """An operation's detail as the auditor reads it."""
    if operation in (Operation.CERTIFICATE_REVOKED, Operation.LICENSE_REVOKED):
        revoked = json.loads(detail)
        reason = REVOCATION_REASONS.get(revoked["reason"], (revoked["reason"],))[0]
        return f"原因：{reason}（状态列表 {revoked['status_list']} 第 {revoked['status_index']} 位）"
    if operation == Operation.SEAL_REVOKED and detail in {reason.value for reason in RevocationReason}:
        return f"原因：{RevocationReason(detail).label_zh}"
    if operation in CREDENTIAL_OPERATIONS and detail.startswith("{"):
        credentials = json.loads(detail)
        until = credentials["previous_until"]
        kept = f"；旧令牌有效至 {beijing_time(datetime.fromisoformat(until), SECONDS)}" if until else ""
        return f"权限：{credentials['scopes']}{kept}"
    if operation == Operation.CATALOG_PUBLISHED:
        published = json.loads(detail)
        return (f"发布人：{published['published_by']}；说明：{published['note'] or '无'}；"
                f"内容摘要 sha256:{published['content_hash']}")
    words = {
        Operation.LICENSE_ISSUED: f"部门编号：{detail}", Operation.LICENSE_AMENDED: f"取代 {detail}",
        Operation.LICENSE_RESEALED: f"取代 {detail}", Operation.LICENSES_IMPORTED: f"签发 {detail} 本",
        Operation.SEAL_ISSUED: f"用途：{detail}", Operation.CLIENT_ADDED: f"权限：{detail}",
        Operation.CLIENT_ROTATED: f"旧令牌再有效 {detail} 分钟",  # recorded before entries held credentials
        Operation.CITY_ROOT_SET_UP: {"created": "本机生成", "imported": "导入本市已有根证书"}.get(detail, detail),
        Operation.SEAL_ROTATED: "对外地址变更后轮换" if detail == "public-address-changed" else detail,
        Operation.CRL_SIGNED: "未到期提前签发" if detail == "forced" else detail,
        Operation.VALUES_REENCRYPTED: f"{detail} 条",
    }
    return words.get(Operation(operation), detail) if detail else ""


def _actor_zh(entry: AccessRecord) -> str:
    if entry.client_id:
        return f"部门业务系统 {entry.client_id}"
    if entry.caseworker_id:
        return f"系统用户 {entry.caseworker_id.removeprefix('os-user:')}"
    return "未记载（升级时补记）"


def _signed_head(path: Path, trust_dir: Path | None) -> SignedHead:
    """The head a signed-head file vouches for, checked against the exported trust material."""
    if trust_dir is None:
        raise click.UsageError("核验 --signed-head 须以 --trust 给出信任材料目录（mianzheng seal export-trust 导出）。")
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise CliError(f"无法读取 {path}。") from None
    if text.startswith("{"):
        try:
            text = str(json.loads(text)["signed_head"])
        except (ValueError, KeyError, TypeError):
            raise CliError(f"{path} 不是链头答复（应含 signed_head）。") from None
    trust, exchange = load_offline_trust_of_exchange(trust_dir)
    try:
        return read_signed_head(text, trust.store, exchange)
    except InvalidInput as error:
        raise CliError(f"{path} 中的链头无效：{error.detail.rstrip('。')}。") from None
