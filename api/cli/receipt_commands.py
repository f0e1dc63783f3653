"""`mianzheng receipt verify`: check an exchange answer's receipt offline, against the
trust material exported with `mianzheng seal export-trust`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from api.cli.context import CliError
from api.cli.offline_trust_input import load_offline_trust_of_exchange
from api.labels import VERDICT_STATUS_ZH
from catalog.city_time import SECONDS, beijing_time
from exchange.receipts import check_receipt
from seals.verdict import Status


@click.group("receipt")
def receipt_group() -> None:
    """数据共享回执：离线核验。"""


@receipt_group.command("verify")
@click.argument("answer_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust", "trust_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="信任材料目录（mianzheng seal export-trust 导出）")
def verify_command(answer_file: Path, trust_dir: Path) -> None:
    """核验 ANSWER_FILE（交换接口返回的 JSON）所附回执：印章签名、证书链、吊销状态，
    以及回执是否与答复内容一致。有效时退出码为 0。"""
    try:
        body = json.loads(answer_file.read_text(encoding="utf-8"))
        answer, receipt = body["answer"], body["receipt"]
    except (ValueError, KeyError, TypeError):
        raise CliError(f"{answer_file} 不是交换接口的答复（应为含 answer 和 receipt 的 JSON）。") from None
    trust, exchange = load_offline_trust_of_exchange(trust_dir)
    result = check_receipt(receipt, answer, trust.store, exchange)
    for check in result.verdict.checks:  # of the receipt's seal: its signature covers the receipt, not the answer
        click.echo(f"  {VERDICT_STATUS_ZH[check.status]}  回执印章：{check.message_zh}")
    if result.claims is None:  # a seal that does not vouch: who signed and what it covers say nothing
        click.echo(f"  {VERDICT_STATUS_ZH[Status.SKIPPED]}  回执的印章签名未通过核验，未核对签发者和答复内容。")
    else:
        click.echo(f"  {'通过' if result.by_the_exchange else '不通过'}  "
                   f"{'回执由交换平台的印章签发。' if result.by_the_exchange else '回执不是交换平台的印章签发的。'}")
        click.echo(f"  {'通过' if result.matches_answer else '不通过'}  "
                   f"{'回执与答复内容一致。' if result.matches_answer else '回执与答复内容不一致（答复可能被改动）。'}")
    if not result.valid:
        raise CliError("回执无效。")
    claims = result.claims or {}
    click.echo(f"回执有效：{claims.get('source')} 于 {_beijing(answer.get('answered_at'))} 答复 "
               f"{claims.get('consumer', {}).get('department')} 的请求 {claims.get('request_id')}。")


def _beijing(answered_at: object) -> str:
    """The answer's time (covered by the receipt) in Beijing time, as every page and command states it."""
    try:
        return beijing_time(datetime.fromisoformat(str(answered_at)), SECONDS) + "（北京时间）"
    except (TypeError, ValueError):
        return str(answered_at)
