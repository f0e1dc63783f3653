"""`mianzheng certificate ...`: e-certificates at the service window and for the issuing
department — issue on a citizen's behalf (柜台代办), list, revoke. Issuance is the portal's
(`exchange.issuance.issue_certificate` with the context of `api.certificate_services`), its pull
logged as the operator's (`--operator`, the staff number, required) on the citizen's behalf; ID
numbers are never printed in full, never stored in clear."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from api.certificate_services import build_issuance_context
from api.cli.context import (EXIT_NOT_FOUND, EXIT_NOT_READY, ID_NUMBER_INVALID_ZH, CliError, database_session,
                             file_trouble_zh, settings)
from api.cli.personal_options import id_number_option
from api.seal_config import seal_settings, status_list_signing
from api.runtime import Runtime
from api.secrets import read_keyring
from core.validity import lapsed
from catalog.city_time import beijing_time
from catalog.citizen_id import mask_id_number, parse_id_number
from catalog.errors import InvalidIdentifier
from core.private_files import write_private_file
from exchange.asserted_facts import FactNotEstablished
from exchange.certificates.identifiers import InvalidCertificateIdentifier, parse_identifier
from exchange.certificates.status_list import REVOCATION_REASONS
from exchange.errors import ExchangeError
from exchange.keyring import Purpose
from exchange.certificate_records import CertificateStatus, IssuedCertificate, certificate_forms
from exchange.issuance import (
    CertificateNotFound,
    IssuanceContext,
    NotIssuable,
    find_certificate,
    issue_certificate,
    list_certificates,
    revoke_certificate,
)
from exchange.operation_codes import Operation
from exchange.operations import console_operator, live_catalog_as_published, record_operation
from exchange.pull_service import PullRefused
from exchange.status_lists import CERTIFICATES, check_status_list, list_ids, rebuild_status_list
from seals.errors import SealError, SealNotFound
from seals.compromise import compromised_seals
from seals.registry import active_seal, trust_store

STATUS_LIST_PROBLEMS_ZH = {"status_list_unsigned": "尚未签发", "status_list_invalid": "签名无效",
                           "status_list_malformed": "格式错误", "status_list_stale": "已过有效期"}
OPERATOR_MAX_LENGTH = 64
"""The longest operator number taken (logged as `counter:<operator>` in a field of 128 characters)."""
REASONS_HELP = "；".join(f"{code} {zh}" for code, (zh, _en) in REVOCATION_REASONS.items())


@click.group("certificate")
def certificate_group() -> None:
    """电子证明：窗口代为开具、列出、撤销。"""


@certificate_group.command("issue")
@id_number_option("申请人公民身份号码（不保存明文，只显示脱敏号码）")
@click.option("--name", "holder_name", required=True, help="申请人姓名")
@click.option("--proof", "proof_code", required=True, help="证明代码，如 NO_HOUSING")
@click.option("--purpose", required=True, help="用途，如 申请公共租赁住房")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="输出目录：写入 <编号>.pdf、<编号>.jws、<编号>.qr.txt")
@click.option("--operator", required=True, help="窗口工作人员工号（记入访问日志，申请人可在“谁用了我的数据”中看到）")
def issue_command(id_number: str, holder_name: str, proof_code: str, purpose: str, out_dir: Path,
                  operator: str) -> None:
    """窗口工作人员受申请人委托开具电子证明（调取数据并记入访问日志，记明由哪位工作人员代为开具）。"""
    operator = operator.strip()
    if not operator or len(operator) > OPERATOR_MAX_LENGTH or not operator.isprintable():
        raise click.BadParameter(f"应为 1–{OPERATOR_MAX_LENGTH} 个可打印字符", param_hint="--operator")
    try:
        number = parse_id_number(id_number).number
    except InvalidIdentifier:
        raise CliError(ID_NUMBER_INVALID_ZH) from None
    from api.metrics import command_runtime

    current = command_runtime(settings())
    try:
        context = _issuance_context(current)
        try:
            certificate = issue_certificate(context, holder_name.strip(), number, proof_code, purpose,
                                            counter_operator=operator)
        except NotIssuable:
            raise CliError(f"{proof_code} 不能开具为电子证明（不是现行目录中可由本人申请调取的证明）。",
                           EXIT_NOT_FOUND) from None
        except PullRefused as refused:
            code = EXIT_NOT_FOUND if refused.kind == "subject-not-found" else EXIT_NOT_READY
            raise CliError(f"未能调取数据（{refused.kind}）：{refused.detail}", code) from None
        except FactNotEstablished as refused:
            offer = f"可改为开具“{refused.alternative.name_zh}”：--proof {refused.alternative.code}。" \
                if refused.alternative else ""
            raise CliError(f"未开具：{refused.refusal_zh}{offer}") from None
        except SealError as error:
            raise CliError(f"出具单位的电子印章不可用：{error}", EXIT_NOT_READY) from None
        except ExchangeError as error:
            raise CliError(f"未能开具电子证明：{error}") from None
    finally:
        current.engine.dispose()
    name = certificate.identifier
    forms = certificate_forms(context.forms, certificate)
    written: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for suffix, data in ((".pdf", forms.pdf), (".jws", f"{forms.credential}\n".encode("ascii")),
                             (".qr.txt", f"{forms.qr_payload}\n".encode("ascii"))):
            written.append(out_dir / f"{name}{suffix}")
            write_private_file(written[-1], data)  # the holder's personal data
    except OSError as failed:  # issued and logged already: say so, and leave no part of the files
        for path in written:
            path.unlink(missing_ok=True)
        raise CliError(f"已开具电子证明（编号 {name}，已记录），但文件未能写入 {out_dir}：{file_trouble_zh(failed) or failed.strerror}"
                       "申请人可登录后在“我的电子证明”中下载。", EXIT_NOT_READY) from None
    proof = context.catalog.proofs[certificate.proof_code]
    click.echo(f"已为 {holder_name.strip()}（{mask_id_number(number)}）开具{proof.name_zh}，"
               f"编号 {name}；文件已写入 {out_dir}。")


def _issuance_context(current: Runtime) -> IssuanceContext:
    """The portal's issuance context, for the live catalog, outside a request."""
    return build_issuance_context(current, *current.published_catalog())


@certificate_group.command("list")
@click.option("--department", default=None, help="只列出该部门出具的证明，如 BDC")
def list_command(department: str | None) -> None:
    """列出电子证明（最新在前）：编号、证明、出具单位、出具时间、状态。不显示持有人身份证号。"""
    now = datetime.now(timezone.utc)
    box = read_keyring(settings()).cipher(Purpose.CERTIFICATE_FORMS)
    with database_session() as session:
        catalog = live_catalog_as_published(session)
        certificates = list_certificates(session, department)
        compromised = compromised_seals(session)
        lines = []
        for certificate in certificates:  # in the session: a credential is read where the seal's times say too little
            proof = catalog.proofs.get(certificate.proof_code)
            issuer = catalog.departments.get(certificate.issuer_department)
            compromised_seal = compromised.signed(certificate.issuer_department, certificate.issued_at,
                                                  lambda certificate=certificate:
                                                  certificate_forms(box, certificate).credential)
            lines.append(f"{certificate.identifier}  {proof.name_zh if proof else certificate.proof_code}  "
                         f"{issuer.name_zh if issuer else certificate.issuer_department}  "
                         f"{beijing_time(certificate.issued_at)}  {_status_zh(certificate, now, compromised_seal)}")
    click.echo("\n".join(lines) if lines else "没有符合条件的电子证明。")


def _status_zh(certificate: IssuedCertificate, now: datetime, compromised_seal: bool) -> str:
    """As every verifier would call it: revoked, sealed with a seal since compromised, expired or valid."""
    if certificate.status == CertificateStatus.REVOKED:
        reason = REVOCATION_REASONS.get(certificate.revocation_reason or "unspecified",
                                        REVOCATION_REASONS["unspecified"])
        return f"已撤销（{reason[0]}）"
    if compromised_seal:
        return "已失效（出具单位的电子印章因密钥泄露被吊销）"
    if certificate.valid_until is not None and lapsed(certificate.valid_until, now):
        return "已过期"
    return "有效"


@certificate_group.command("revoke")
@click.argument("identifier")
@click.option("--reason", required=True, type=click.Choice(list(REVOCATION_REASONS)),
              help=f"撤销原因：{REASONS_HELP}")
def revoke_command(identifier: str, reason: str) -> None:
    """出具单位撤销电子证明 IDENTIFIER，记入证明状态列表（离线核验方需重新导出信任材料）。"""
    try:
        normalised = str(parse_identifier(identifier))
    except InvalidCertificateIdentifier:
        raise CliError("电子证明编号无效：应形如 1.2.156.3005.2.<4 位类型>.<18 位统一社会信用代码>.<10 位序号>"
                       ".<2 位版本>.<校验位>，请逐位核对。") from None
    current = settings()
    signing = status_list_signing(current, seal_settings(current))
    with database_session() as session:
        try:
            issuer = find_certificate(session, normalised).issuer_department
            certificate = revoke_certificate(session, signing, normalised, issuer, reason, datetime.now(timezone.utc),
                                             console_operator())
        except CertificateNotFound:
            raise CliError(f"没有编号为 {normalised} 的电子证明。", EXIT_NOT_FOUND) from None
        assert certificate.revoked_at is not None
        click.echo(f"电子证明 {certificate.identifier} 已于 {beijing_time(certificate.revoked_at)} 撤销"
                   f"（{REVOCATION_REASONS[certificate.revocation_reason or reason][0]}）。"
                   f"离线核验前请重新导出信任材料：mianzheng seal export-trust DIR。")


@certificate_group.group("status-list")
def status_list_group() -> None:
    """电子证明状态列表：核对已签名的列表与撤销记录是否一致，必要时重新签发。"""


@status_list_group.command("check")
def status_list_check_command() -> None:
    """核对每一份已签名的状态列表是否包含其中每一张已撤销的电子证明（不一致时退出码 1）。"""
    current = settings()
    signing = status_list_signing(current, seal_settings(current))
    with database_session() as session:
        trust, now = trust_store(session), datetime.now(timezone.utc)
        checks = [check_status_list(session, CERTIFICATES, list_id, trust, signing.url(list_id), now)
                  for list_id in list_ids(session, CERTIFICATES)]
    unreadable = [check for check in checks if check.problem is not None and check.problem != "status_list_stale"]
    for check in checks:
        if check in unreadable:  # nothing it says can be read, so nothing is compared
            click.echo(f"状态列表 {check.list_id}：已撤销电子证明 {check.set_in_table} 张；已签名的状态列表不可用，无法核对："
                       f"{STATUS_LIST_PROBLEMS_ZH.get(check.problem or '', check.problem)}。")
            continue
        click.echo(f"状态列表 {check.list_id}：已撤销电子证明 {check.set_in_table} 张；状态列表漏记 {len(check.missing)} 张，"
                   f"撤销记录少了 {len(check.extra)} 张" + ("（状态列表已公布其撤销）。" if check.extra else "。"))
        if check.problem is not None:
            click.echo(f"状态列表 {check.list_id} 不可用：{STATUS_LIST_PROBLEMS_ZH.get(check.problem, check.problem)}。")
    compared = [check for check in checks if check not in unreadable]
    lost = sum(len(check.extra) for check in compared)
    click.echo(f"共 {len(checks)} 份状态列表，已撤销电子证明 {sum(check.set_in_table for check in checks)} 张；"
               f"状态列表漏记 {sum(len(check.missing) for check in compared)} 张，撤销记录少了 {lost} 张"
               + (f"（{len(unreadable)} 份不可用，未核对）。" if unreadable else "。"))
    if lost:
        click.echo(f"撤销记录少了 {lost} 张状态列表已公布撤销的电子证明：数据库中的撤销记录可能被改动或丢失，请核查数据库的"
                   "改动记录与备份。已公布的撤销是最终的：重新签发状态列表时仍予保留，这些电子证明核验仍为无效。", err=True)
    if all(check.signing_mends for check in checks) and lost:
        raise CliError("状态列表与撤销记录不一致：撤销记录缺少已公布的撤销。")
    if not all(check.agrees for check in checks):
        with database_session() as session:
            try:
                active_seal(session, current.exchange_department)
                sealed = True
            except SealNotFound:
                sealed = False
        first = "" if sealed else f"先由印章管理员运行 mianzheng seal issue {current.exchange_department}（交换平台尚无可用的电子印章），再"
        raise CliError(f"状态列表与撤销记录不一致：请{first}运行 mianzheng certificate status-list rebuild。")
    click.echo("状态列表与撤销记录一致。")


@status_list_group.command("rebuild")
def status_list_rebuild_command() -> None:
    """按撤销记录重新生成并签发每一份状态列表。"""
    current = settings()
    signing, now = status_list_signing(current, seal_settings(current)), datetime.now(timezone.utc)
    try:
        with database_session() as session:
            lists = list_ids(session, CERTIFICATES)
            rebuilt = [rebuild_status_list(session, CERTIFICATES, list_id, signing, now) for list_id in lists]
            record_operation(session, Operation.STATUS_LISTS_REBUILT, console_operator(), ",".join(map(str, lists)))
    except SealError as error:  # the exchange has no seal it can sign with: nothing is rebuilt
        raise CliError(f"交换平台的电子印章不可用，未重新签发任何状态列表（{error}）；请先由印章管理员运行 "
                       f"mianzheng seal issue {current.exchange_department}。", EXIT_NOT_READY) from None
    click.echo(f"{len(rebuilt)} 份状态列表已按撤销记录重新签发。")
