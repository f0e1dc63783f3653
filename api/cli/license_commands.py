"""`mianzheng license ...`: the e-license library from the command line — bulk import of a
department's existing licenses (存量证照) from its JSONL export, resumable and idempotent, with a
progress bar, a report of rejected lines and the rate (the demo adds `demo-export`, the demo
population's exports, for trying and measuring it); and offline verification of a license credential,
presentation (亮证) or usage copy (加注件) against exported trust material plus the signed license
status list (`export-status`), with the verdict the API gives; and `reseal`, a department's
licenses issued again under its new seal after the old one was revoked for key compromise."""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from api.cli.context import (EXIT_CONFLICT, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_NOT_READY, CliError, database_session,
                             settings)
from api.cli.offline_trust_input import load_offline_trust_of_exchange
from api.cli.personal_options import optional_id_number_option
from api.labels import LICENSE_CHECK_NAMES_ZH, LICENSE_FORMS_ZH, VERDICT_STATUS_ZH, license_outcome, named_license
from api.license_services import build_library, signed_license_status_lists
from api.seal_config import seal_settings, status_list_signing
from api.runtime import Runtime
from catalog.city_time import BEIJING
from catalog.loading import bundled_catalog_path, load_catalog
from exchange.licenses.pdf import verify_license_pdf
from exchange.licenses.presentation import VERIFIER_NONCE, VERIFIER_NONCE_ZH
from exchange.licenses.service import LastVersion, LicenseConflict, reseal_license, sealed_by_compromised_seal
from exchange.licenses.verify import verify_license
from exchange.operations import console_operator
from seals.errors import KeyUnavailable, NoActiveSeal
from seals.verdict import Status
from exchange.licenses.bulk_import import DEFAULT_BATCH, import_lines
from exchange.certificates.issuer_list import ISSUER_LIST_FILE
from exchange.certificates.status_list import held_status_lists
from exchange.certificates.verify import is_pdf


@click.group("license")
def license_group() -> None:
    """电子证照库：存量证照导入、离线核验。"""


@license_group.command("import")
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--department", required=True, help="发证部门代码，如 MZ（导出文件中的证照均由该部门签发）")
@click.option("--batch", default=DEFAULT_BATCH, show_default=True, help="每提交一次的行数（中断后从已提交处继续）")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path),
              help="把被拒绝的行号和原因写入此文件（JSONL）")
def import_command(export: Path, department: str, batch: int, rejects: Path | None) -> None:
    """导入一个部门的存量证照（JSONL，每行一本）。可重复运行：已导入的（按部门自己的 reference）跳过。"""
    current = Runtime.start(settings())
    try:
        catalog, _ = current.published_catalog()
        if department not in catalog.departments:
            raise CliError(f"现行目录中没有部门 {department}。", EXIT_NOT_FOUND)
        with export.open("rb") as counting:  # bytes: a line that is not UTF-8 is that line's rejection
            total = sum(1 for _ in counting)
        started = time.perf_counter()
        with export.open("rb") as lines, click.progressbar(length=total, label="导入证照",
                                                                     file=sys.stderr) as bar:
            report = import_lines(current.sessions, build_library(current, catalog), department, lines,
                                  actor=console_operator(), batch=batch, progress=bar.update)
        seconds = time.perf_counter() - started
    finally:
        current.engine.dispose()
    if rejects is not None:
        rejects.write_text("".join(json.dumps({"line": line, "reason": reason}, ensure_ascii=False) + "\n"
                                   for line, reason in report.rejected), encoding="utf-8")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = report.imported / seconds if seconds else 0.0
    click.echo(f"已导入 {report.imported} 本，已存在跳过 {report.skipped} 本，拒绝 {len(report.rejected)} 行；"
               f"用时 {seconds:.1f} 秒（{rate:.0f} 本/秒），内存峰值 {peak:.0f} MiB。")
    for line, reason in report.rejected[:10]:
        click.echo(f"  第 {line} 行：{reason}")
    if report.rejected:
        raise CliError(f"{len(report.rejected)} 行未导入" + (f"，详见 {rejects}" if rejects else "") + "。")


@license_group.command("reseal")
@click.argument("department")
def reseal_command(department: str) -> None:
    """部门印章因密钥泄露被吊销后，以新印章重新签发该部门原由旧印章签发、仍然有效的全部证照（内容不变，旧版本作废）。
    可重复运行：已重新签发的不再处理。"""
    current = Runtime.start(settings())
    try:
        catalog, _ = current.published_catalog()
        if department not in catalog.departments:
            raise CliError(f"现行目录中没有部门 {department}。", EXIT_NOT_FOUND)
        library = build_library(current, catalog)
        with current.sessions() as session:
            pending = list(sealed_by_compromised_seal(session, library, department))
        changed: list[str] = []
        last: list[str] = []
        for identifier in pending:
            try:
                with current.sessions.begin() as session:
                    reseal_license(session, library, department, identifier, console_operator())
            except LastVersion:  # no room for a version more: the department must issue it anew
                last.append(identifier)
            except LicenseConflict:  # amended, revoked or resealed (another run) meanwhile: already sealed anew
                changed.append(identifier)
    except NoActiveSeal:
        raise CliError(f"{department} 尚无可用的电子印章：请先由印章管理员运行 mianzheng seal issue {department}。",
                       EXIT_NOT_READY) from None
    except KeyUnavailable as error:  # the file's name helps the seal officer find it; never its content
        raise CliError(f"无法使用 {department} 的印章密钥文件：文件缺失、损坏或口令不对（{error}）；已重新签发的证照保留，"
                       "修复后再次运行本命令即可继续。", EXIT_NOT_READY) from None
    finally:
        current.engine.dispose()
    if not pending:
        click.echo(f"{department} 没有需要重新签发的证照。")
        return
    click.echo(f"已以 {department} 的现用印章重新签发 {len(pending) - len(changed) - len(last)} 本证照（内容和有效期不变，持证人可在"
               f"“我的证照”中看到新版本）" + (f"；{len(changed)} 本在此期间已被换发、撤销或由另一次运行重新签发，无需再签。" if changed else "。"))
    if last:
        raise CliError(f"{len(last)} 本证照已达版本上限，无法再次签发：{'、'.join(last)}。请由 {department} 注销后重新发证。",
                       EXIT_CONFLICT)


LICENSE_STATUS_LIST_FILE = "license-status-list.jws"


@license_group.command("export-status")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def export_status_command(folder: Path) -> None:
    """把签名的电子证照状态列表写入信任材料目录（license-status-list.jws，每行一个列表，供 license verify 离线核验）。"""
    current = settings()
    with database_session() as session:
        tokens = signed_license_status_lists(session, status_list_signing(current, seal_settings(current)))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LICENSE_STATUS_LIST_FILE).write_text("".join(f"{token}\n" for token in tokens), encoding="ascii")
    click.echo(f"已写入 {folder / LICENSE_STATUS_LIST_FILE}（{len(tokens)} 个状态列表，有效期一天）。")


@license_group.command("verify")
@click.argument("license_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust", "trust_dir", default=Path("trust"), show_default=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="信任材料目录（seal export-trust 和 license export-status 导出）")
@optional_id_number_option("持证人公民身份号码（可选，只用于核对）")
@click.option("--nonce", default=None, help="您给持证人的随机数（可选）：只认可按此随机数出示的亮证")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 格式的核验结论（与 POST /api/v1/licenses/verification 相同）")
def verify_command(license_file: Path, trust_dir: Path, id_number: str | None, nonce: str | None,
                   as_json: bool) -> None:
    """离线核验电子证照凭证、亮证内容或加注件（文本文件），或电子证照、加注件的 PDF 文件。有效时退出码为 0，否则为 1。
    离线无法知道亮证是否已被核验过（一次性随机数），该项显示为跳过；给出 --nonce 时，按其他随机数出示的亮证为无效。"""
    if nonce is not None and not VERIFIER_NONCE.match(nonce):
        raise click.BadParameter(VERIFIER_NONCE_ZH, param_hint="--nonce")
    offline, exchange = load_offline_trust_of_exchange(trust_dir)
    trust = offline.store
    try:
        tokens = (trust_dir / LICENSE_STATUS_LIST_FILE).read_text(encoding="ascii").split()
    except OSError:
        raise CliError(f"{trust_dir} 中没有 {LICENSE_STATUS_LIST_FILE}（请用 mianzheng license export-status 导出）。") \
            from None
    now = datetime.now(timezone.utc)
    data = license_file.read_bytes()
    if offline.issuers is None:
        click.echo(f"信任材料目录中没有出具单位清单（{ISSUER_LIST_FILE}），未核对发证单位是否负责颁发此类证照："
                   f"请用 mianzheng seal export-trust {trust_dir} 重新导出。", err=True)
    options: dict[str, Any] = {"exchange_uscc": exchange, "now": now, "id_number": id_number or None,
                               "issuers": offline.issuers,
                               "catalog": load_catalog(bundled_catalog_path())}  # the catalog labels only
    lists = held_status_lists(tokens)
    verdict = (verify_license_pdf(data, trust, lists, **options) if is_pdf(data)
               else verify_license(data.decode("utf-8", errors="replace").strip(), trust, lists, expected_nonce=nonce,
                                   **options))
    if as_json:
        click.echo(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=2))
    else:
        document = verdict.to_dict()
        click.echo(f"核验的形式：{LICENSE_FORMS_ZH[verdict.form]}{'（PDF 文件）' if verdict.pdf else ''}")
        if content := named_license(verdict):  # which license (only when it holds or was revoked, as on the page)
            click.echo(f"证照：{content['license']['name_zh']}，证照编号 {content['identifier']}（第 {content['version']} 版），"
                       f"发证机关 {content['issuer']['name_zh']}，持证人 {content['holder']['name']}")
        for check in document["checks"]:
            status = VERDICT_STATUS_ZH[Status(check["status"])]
            name = LICENSE_CHECK_NAMES_ZH.get(check["check"], check["check"])
            click.echo(f"  {status}  {name}：{' '.join(check['message_zh'].split())}")
        (outcome, _, _), explanation = license_outcome(verdict)
        click.echo(f"结论：{outcome}。{explanation}")
        if verdict.valid:
            for item in verdict.items:
                click.echo(f"  {item['label_zh']}：{item['text_zh']}")
            if verdict.usage:
                until = datetime.fromisoformat(verdict.usage["valid_until"].replace("Z", "+00:00")).astimezone(BEIJING)
                click.echo(f"  仅限{verdict.usage['department_name_zh']}办理“{verdict.usage['matter_name_zh']}”使用，"
                           f"有效期至 {until:%Y-%m-%d %H:%M}")
    if not verdict.valid:
        raise SystemExit(EXIT_INVALID)
