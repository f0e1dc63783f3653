"""`mianzheng verify FILE`: verify an e-certificate — a PDF, a credential (JWS) or a QR payload
(`MZ2:...`, or `MZ1:...` of certificates printed before) — fully offline, against trust
material exported with `mianzheng seal export-trust` (including every signed status list; the
certificate is checked against the one it names, so a revoked certificate is reported as such). The verdict is
`exchange.certificates.verify.verify_certificate`'s, the one the API gives: same checks, same
codes. Exit 0 only for a valid certificate, 1 otherwise, 2 for a wrong command line."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from api.cli.context import EXIT_INVALID
from api.cli.offline_trust_input import load_offline_trust_of_exchange
from api.cli.personal_options import optional_id_number_option
from api.labels import CHECK_NAMES_ZH, VERDICT_STATUS_ZH
from exchange.certificates.issuer_list import ISSUER_LIST_FILE
from exchange.certificates.offline_trust import STATUS_LIST_FILE
from catalog.citizen_id import parse_id_number
from catalog.errors import InvalidIdentifier
from catalog.city_time import beijing_time
from exchange.certificates.model import format_datetime_zh, parse_time
from exchange.certificates.status_list import held_status_lists
from exchange.certificates.verdict import CertificateCheck, CertificateVerdict
from exchange.certificates.verify import verify_certificate
from seals.verdict import Status

DEFAULT_TRUST_DIR = Path("trust")
DEFAULT_MAX_AGE_HOURS = 6.0


@click.command("verify")
@click.argument("certificate_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust", "trust_dir", default=DEFAULT_TRUST_DIR, show_default=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="信任材料目录（mianzheng seal export-trust 导出，含全部证明状态列表 status-list.jws）")
@optional_id_number_option("持有人公民身份号码（可选，用于核验持有人；不会完整显示）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 格式的核验结论（与 POST /api/v1/verify 相同）")
@click.option("--max-age", "max_age_hours", default=DEFAULT_MAX_AGE_HOURS, show_default=True,
              type=click.FloatRange(min=0), help="状态列表签发超过该小时数时提醒重新导出（其后的撤销不在其中）")
def verify_command(certificate_file: Path, trust_dir: Path, id_number: str | None, as_json: bool,
                   max_age_hours: float) -> None:
    """离线核验电子证明 CERTIFICATE_FILE：PDF、机读凭证（JWS 文本文件）或二维码内容（MZ2: 或 MZ1: 开头的文本文件）。

    逐项列出检查结果和结论；证明有效时退出码为 0，无效、已撤销或无法确定时为 1。"""
    if id_number:
        try:
            parse_id_number(id_number)
        except InvalidIdentifier:
            raise click.BadParameter("公民身份号码格式不正确，请核对（也可以不填）。", param_hint="--id-number") from None
    trust, exchange = load_offline_trust_of_exchange(trust_dir)
    verdict = verify_certificate(certificate_file.read_bytes(), trust.store, held_status_lists(trust.status_lists),
                                 id_number=id_number or None, exchange_uscc=exchange, issuers=trust.issuers)
    if as_json:
        click.echo(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print(verdict)
    if trust.issuers is None:
        click.echo(f"信任材料目录中没有出具单位清单（{ISSUER_LIST_FILE}），未核对出具单位是否负责出具此类证明："
                   f"请用 mianzheng seal export-trust {trust_dir} 重新导出。", err=True)
    signed_at = trust.status_list_signed_at
    if signed_at is not None:
        age = datetime.now(timezone.utc) - signed_at
        note = f"证明状态信息（{STATUS_LIST_FILE}）签发于 {beijing_time(signed_at)}（北京时间）。"
        if age > timedelta(hours=max_age_hours):
            note += (f"已超过 {max_age_hours:g} 小时，此后的撤销不会反映在本结论中；"
                     f"请用 mianzheng seal export-trust {trust_dir} 重新导出后再核验。")
        click.echo(note, err=as_json or age > timedelta(hours=max_age_hours))
    if not verdict.valid:
        raise SystemExit(EXIT_INVALID)


def _print(verdict: CertificateVerdict) -> None:
    for result in verdict.checks:
        message = " ".join(result.message_zh.split())  # one line per check, even for a multi-line detail
        click.echo(f"  {VERDICT_STATUS_ZH[result.status]}  {CHECK_NAMES_ZH[result.check.value]}：{message}")
    if verdict.result(CertificateCheck.CERTIFICATE_STATUS).code == "status_list_unavailable":
        click.echo(f"  （信任材料目录的 {STATUS_LIST_FILE} 中没有该证明所属的状态列表：请用 mianzheng seal export-trust "
                   "重新导出，以检查证明是否被撤销。）")
    click.echo(f"结论：{_conclusion(verdict)}")
    if verdict.valid and verdict.content is not None:
        for line in _essentials(verdict.content):
            click.echo(f"  {line}")


def _conclusion(verdict: CertificateVerdict) -> str:
    if verdict.valid:
        return "证明有效。"
    if verdict.revocation_reason is not None:
        return "证明已被出具单位撤销，不可使用。"
    if verdict.status is Status.INVALID:
        return "证明无效。"
    return "无法确定证明是否有效（见标为“出错”的检查项）。"


def _essentials(content: Mapping[str, Any]) -> list[str]:
    """What the holder presents: proof, holder (masked ID), issuer, validity."""
    lines = [
        f"证明：{content['proof']['name_zh']}（{content['identifier']}）",
        f"持有人：{content['holder']['name']}，身份证号 {content['holder']['id_masked']}",
        f"出具单位：{content['issuer']['name_zh']}，出具时间 {_time(content['issued_at'])}",
    ]
    if content.get("as_of"):
        lines.append(f"查询截至：{_time(content['as_of'])}")
    until = _time(content["valid_until"]) if content.get("valid_until") else "长期"
    lines.append(f"有效期：{_time(content['valid_from'])} 至 {until}")
    return lines


def _time(text: str) -> str:
    return format_datetime_zh(parse_time(text))
