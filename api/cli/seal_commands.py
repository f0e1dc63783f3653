"""`mianzheng seal ...`: the seal officer's commands — the city CA, department seals
(issue, rotate, revoke), the CRL, seal images and the exported trust material (with the signed
certificate status list, for offline verification: `exchange.certificates.offline_trust`).
Each change to the CA or a seal is an entry of the access log's chain, with the operator
(`exchange.operations`)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click
from sqlalchemy.orm import Session

from api.cli.city_root import read_city_root
from api.cli.context import CRL_NOT_THE_ROOTS_ZH, EXIT_NOT_FOUND, EXIT_NOT_READY, CliError, database_session, settings
from exchange.certificates.offline_trust import STATUS_LIST_FILE, export_offline_trust
from api.seal_config import seal_settings, status_list_signing
from catalog.city_time import beijing_time
from catalog.model import Catalog, Department
from catalog.versions import published_documents
from exchange.certificates.issuer_list import ISSUER_LIST_FILE, sign_issuer_list
from exchange.issuance import issuable_proofs
from exchange.operation_codes import Operation
from exchange.operations import console_operator, live_catalog_as_published, record_crl_signed, record_operation
from exchange.status_lists import CERTIFICATES, list_ids, refresh_status_list, stored_status_list
from seals.ca import RevocationReason
from seals.errors import (CaAlreadyExists, CaMissing, CrlNotTheRoots, KeyUnavailable, NoActiveSeal, SealAlreadyActive,
                          SealChanged, SealError, SealNotFound, SealRevoked)
from seals.registry import (
    SealStatus,
    active_signer,
    current_crl,
    import_ca,
    init_ca,
    issue_seal,
    list_seals,
    refresh_crl,
    revoke_seal,
    rotate_seal,
    trust_store,
)
from seals.seal_image import SealText, seal_png

STATUS_ZH = {"active": "有效", "superseded": "已轮换", "revoked": "已吊销", "expired": "已过期"}


@click.group("seal")
def seal_group() -> None:
    """电子印章：城市根证书、部门印章的签发、轮换、吊销和信任材料导出。"""


def _department(session: Session, code: str) -> Department:
    department = live_catalog_as_published(session).departments.get(code)
    if department is None:
        raise CliError(f"现行目录中没有部门 {code}。", EXIT_NOT_FOUND)
    return department


def _fail(error: SealError) -> CliError:
    if isinstance(error, CaMissing):
        return CliError("尚无城市根证书，请先运行 mianzheng init（采用本市已有根证书：mianzheng init --ca-cert 证书 --ca-key 私钥）。",
                        EXIT_NOT_READY)
    if isinstance(error, CaAlreadyExists):
        return CliError("本安装已有城市根证书，不再创建或导入另一个根证书。")
    if isinstance(error, SealNotFound):
        return CliError(f"未找到印章：{error}", EXIT_NOT_FOUND)
    if isinstance(error, SealRevoked):
        return CliError(f"该印章已被吊销，本次未作任何更改（{error}）。")
    if isinstance(error, SealChanged):
        return CliError(f"印章状态已被同时进行的另一操作改变，本次未作任何更改；请用 mianzheng seal list 查看后再决定（{error}）。")
    if isinstance(error, SealAlreadyActive):
        return CliError("该部门已有有效印章，本次未作任何更改；如需更换密钥请用 mianzheng seal rotate。")
    if isinstance(error, CrlNotTheRoots):
        return CliError(CRL_NOT_THE_ROOTS_ZH, EXIT_NOT_READY)
    if isinstance(error, KeyUnavailable):  # the file's name helps the seal officer find it; never its content
        return CliError(f"无法使用密钥文件：文件缺失、损坏或口令不对，本次未作任何更改（{error}）。", EXIT_NOT_READY)
    return CliError(f"印章操作未完成，本次未作任何更改（{error}）。")


@seal_group.command("init-ca")
@click.option("--cert", "cert_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="导入已有根证书（PEM）")
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="导入根证书私钥（PEM，可加密）")
@click.option("--key-passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="导入私钥的口令文件")
def init_ca_command(cert_file: Path | None, key_file: Path | None, key_passphrase_file: Path | None) -> None:
    """创建城市电子印章根证书（ECDSA P-256），或用 --cert/--key 导入已有根证书。

    mianzheng init 在尚无根证书时会创建一个；要采用本市已有根证书，请在首次运行时用
    mianzheng init --ca-cert/--ca-key。"""
    if (cert_file is None) != (key_file is None):
        raise click.UsageError("--cert 与 --key 须同时给出。")
    city_root = read_city_root(cert_file, key_file, key_passphrase_file) if cert_file and key_file else None
    with database_session() as session:
        try:
            if city_root is not None:
                row = import_ca(session, seal_settings(settings()), city_root)
                click.echo(f"已导入根证书：{row.subject}")
            else:
                row = init_ca(session, seal_settings(settings()))
                click.echo(f"已创建根证书：{row.subject}，有效期至 {beijing_time(row.not_after, '%Y-%m-%d')}")
        except SealError as error:
            raise _fail(error) from None
        record_operation(session, Operation.CITY_ROOT_SET_UP, console_operator(), row.serial_hex,
                         detail="imported" if city_root is not None else "created")


@seal_group.command("issue")
@click.argument("department")
@click.option("--purpose", default="电子证明专用章", show_default=True, help="印章用途（印于印章下方）")
def issue_command(department: str, purpose: str) -> None:
    """为目录中的部门 DEPARTMENT 签发电子印章（证书与密钥）。"""
    with database_session() as session:
        found = _department(session, department)
        try:
            seal = issue_seal(session, seal_settings(settings()), department_code=found.code,
                              department_name=found.legal_name_zh, uscc=found.uscc, purpose_zh=purpose)
        except SealError as error:
            raise _fail(error) from None
        record_operation(session, Operation.SEAL_ISSUED, console_operator(), seal.serial_hex,
                         department=seal.department_code, detail=seal.purpose_zh)
        click.echo(f"已为 {seal.department_name} 签发电子印章，kid {seal.kid}，"
                   f"有效期至 {beijing_time(seal.not_after, '%Y-%m-%d')}。")


@seal_group.command("rotate")
@click.argument("department")
def rotate_command(department: str) -> None:
    """为部门换用新密钥和新证书（署现行目录中的名称）；旧印章转为“已轮换”，其签名仍可验证。"""
    with database_session() as session:
        found = _department(session, department)
        try:
            seal = rotate_seal(session, seal_settings(settings()), found.code, named=(found.legal_name_zh, found.uscc))
        except SealError as error:
            raise _fail(error) from None
        record_operation(session, Operation.SEAL_ROTATED, console_operator(), seal.serial_hex,
                         department=seal.department_code)
        click.echo(f"已轮换 {seal.department_name} 的电子印章，新 kid {seal.kid}。")


@seal_group.command("revoke")
@click.argument("department")
@click.option("--reason", required=True, type=click.Choice([r.value for r in RevocationReason]),
              help="吊销原因")
@click.option("--serial", default=None,
              help="吊销指定序列号的印章（默认：当前有效印章）；可照 seal list 或 openssl 的写法（大小写、冒号均可）")
def revoke_command(department: str, reason: str, serial: str | None) -> None:
    """吊销部门的电子印章并重新签发证书吊销列表（CRL）。吊销后所作签名不再有效。"""
    if serial is not None:
        serial = _serial_hex(serial)
    with database_session() as session:
        try:
            seal = revoke_seal(session, seal_settings(settings()), department, RevocationReason(reason),
                               serial_hex=serial)
        except SealError as error:
            raise _fail(error) from None
        record_operation(session, Operation.SEAL_REVOKED, console_operator(), seal.serial_hex,
                         department=seal.department_code, detail=reason)
        click.echo(f"已吊销 {seal.department_name} 的电子印章（序列号 {seal.serial_hex}），"
                   f"吊销时间 {beijing_time(seal.revoked_at, '%Y-%m-%d %H:%M:%S')}（北京时间）。")
        now = datetime.now(timezone.utc)
        left_without = department == settings().exchange_department and not any(
            other.status_at(now) is SealStatus.ACTIVE for other in list_seals(session, department))
        catalog = live_catalog_as_published(session)
    if reason == RevocationReason.KEY_COMPROMISE.value:  # every verifier now turns away what the key signed
        click.echo(_compromise_notice(catalog, department, exchange=department == settings().exchange_department),
                   err=True)
    if left_without:  # the exchange's own seal, and none left to sign with
        click.echo(f"注意：这是数据交换平台的印章。在 mianzheng seal issue {department} 签发新印章之前，交换平台不能签发"
                   "回执、状态列表和亮证，全市证明的核验都将显示“无法确认”。", err=True)


def _compromise_notice(catalog: Catalog, department: str, *, exchange: bool) -> str:
    """What follows a key compromise of `department`'s seal: a new seal, then what it signed made
    again, naming only what the department makes (licenses, certificates, the exchange's usage copies)."""
    steps = [f"请用 mianzheng seal issue {department} 签发新印章"]
    if any(license.department == department for license in catalog.licenses.values()):
        steps.append(f"然后运行 mianzheng license reseal {department} 重新签发证照（在此之前持证人看到证照“已失效”，"
                     "部门用证将被拒绝）")
    if exchange:
        steps.append("此前签发的数据共享回执和加注件不再有效，用证部门须重新调取加注件")
    if any(proof.department == department for proof in issuable_proofs(catalog)):
        steps.append("此前出具的电子证明由持有人重新开具")
    return "注意：此印章签发的文书一律验证为无效。" + "；".join(steps) + "。"


def _serial_hex(text: str) -> str:
    """A serial as `seal list` prints it: lower-case hex without leading zeros, from any spelling
    of it (openssl's upper case, the CRL's colon-separated bytes)."""
    digits = text.strip().replace(":", "").lower()
    if not digits or any(character not in "0123456789abcdef" for character in digits):
        raise CliError(f"序列号应为十六进制数字（如 seal list 所列），不是 {text!r}。")
    return digits.lstrip("0") or "0"


@seal_group.command("crl")
@click.option("--force", is_flag=True, help="未到期也重新签发")
def crl_command(force: bool) -> None:
    """签发印章证书吊销列表（CRL）：距下次更新不足一天时重新签发。请每日运行（如系统定时任务）。"""
    with database_session() as session:
        try:
            signed = refresh_crl(session, seal_settings(settings()), force=force)
            if signed:
                record_crl_signed(session, console_operator(), forced=force)
            crl = current_crl(session)
        except SealError as error:
            raise _fail(error) from None
    assert crl is not None and crl.next_update_utc is not None
    state = "已重新签发" if signed else "尚未到期，未重新签发"
    click.echo(f"CRL {state}；下次更新 {beijing_time(crl.next_update_utc)}。")


@seal_group.command("list")
@click.argument("department", required=False)
def list_command(department: str | None) -> None:
    """列出电子印章（可只列一个部门）。"""
    with database_session() as session:
        seals = list_seals(session, department)
    now = datetime.now(timezone.utc)
    if not seals:
        raise CliError("没有符合条件的印章。", EXIT_NOT_FOUND)
    for seal in seals:
        click.echo(f"{seal.department_code:<5} {STATUS_ZH[seal.status_at(now).value]:<4} {seal.department_name}  "
                   f"有效期 {beijing_time(seal.not_before, '%Y-%m-%d')}～{beijing_time(seal.not_after, '%Y-%m-%d')}  "
                   f"序列号 {seal.serial_hex}  kid {seal.kid}")


@seal_group.command("image")
@click.argument("department")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="输出 PNG 文件")
@click.option("--pixels", default=400, show_default=True, type=click.IntRange(64, 2000))
def image_command(department: str, out_file: Path, pixels: int) -> None:
    """把部门电子印章图样导出为 PNG。"""
    with database_session() as session:
        found = _department(session, department)
    out_file.write_bytes(seal_png(SealText(found.legal_name_zh), pixels))
    click.echo(f"已导出印章图样：{out_file}")


@seal_group.command("export-trust")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_trust_command(directory: Path) -> None:
    """导出离线验证所需的信任材料：根证书、全部印章证书、CRL、JWKS、全部已签名的电子证明状态列表和出具单位清单。"""
    current, sealing = settings(), seal_settings(settings())
    with database_session() as session:
        try:
            read_at = datetime.now(timezone.utc)  # every seal certified before is in the store read next
            store = trust_store(session)
            signing, now = status_list_signing(current, sealing), datetime.now(timezone.utc)
            exchange_signer = active_signer(session, sealing, current.exchange_department)  # none: nothing to export
            status_lists = []
            for list_id in list_ids(session, CERTIFICATES):  # one signed by a seal since replaced is signed again
                refresh_status_list(session, CERTIFICATES, list_id, signing, now)
                token = stored_status_list(session, list_id)
                assert token is not None, "a list never signed is signed now, by the seal just read"
                status_lists.append(token)
            issuer_list = sign_issuer_list(published_documents(session), exchange_signer, now=now)
        except NoActiveSeal:  # what signs the status lists and the issuer list
            department = current.exchange_department
            raise CliError(f"交换平台（{department}）尚无可用的电子印章，无法签署状态列表和出具单位清单，本次未导出："
                           f"请先由印章管理员运行 mianzheng seal issue {department}。", EXIT_NOT_READY) from None
        except SealError as error:
            raise _fail(error) from None
        exchange = live_catalog_as_published(session).departments[current.exchange_department].uscc
    export_offline_trust(directory, store, status_lists, exchange, issuer_list, read_at)
    click.echo(f"已导出信任材料到 {directory}（根证书、{len(store.seal_certificates)} 张印章证书、CRL、JWKS、"
               f"电子证明状态列表 {len(status_lists)} 份 {STATUS_LIST_FILE}、出具单位清单 {ISSUER_LIST_FILE}）。")
