"""`mianzheng consent ...`: consents recorded at a service counter on a citizen's written
request (柜台代办) — grant, withdraw, list. Citizens do the same online through
`/api/v1/me/consents`. ID numbers are only used to compute the subject key and are printed masked.
"""

from __future__ import annotations

from datetime import datetime, timezone

import click

from api.cli.context import EXIT_NOT_FOUND, EXIT_NOT_READY, ID_NUMBER_INVALID_ZH, CliError, database_session, settings
from api.cli.personal_options import id_number_option
from api.secrets import SUBJECT_HASH_KEY, SecretMissing, read_secret
from catalog.city_time import beijing_time
from catalog.citizen_id import mask_id_number
from catalog.errors import InvalidIdentifier
from catalog.model import Catalog
from exchange.consent import (
    MAX_CONSENT_DAYS,
    Channel,
    Consent,
    ConsentNotFound,
    ConsentRequest,
    consented_name_zh,
    grant_consent,
    list_consents,
    withdraw_consent,
)
from exchange.errors import InvalidInput, UnknownCode
from exchange.operations import live_catalog_as_published
from exchange.subjects import subject_key

STATUS_ZH = {"active": "有效", "expired": "已过期", "withdrawn": "已撤回"}


@click.group("consent")
def consent_group() -> None:
    """本人授权：登记、撤回、查询（柜台代办；群众也可在线办理）。"""


def _subject(id_number: str) -> str:
    try:
        return subject_key(read_secret(settings(), SUBJECT_HASH_KEY), id_number)
    except InvalidIdentifier:
        raise CliError(ID_NUMBER_INVALID_ZH) from None
    except SecretMissing:
        raise CliError("主体标识密钥不存在，请先运行 mianzheng init。", EXIT_NOT_READY) from None


def _describe(catalog: Catalog, consent: Consent) -> str:
    matter = catalog.matters.get(consent.matter)
    department = catalog.departments.get(consent.consumer_department)
    proofs = "、".join(consented_name_zh(catalog, code) for code in consent.proofs)
    status = STATUS_ZH[consent.status(datetime.now(timezone.utc)).value]
    return (f"{consent.id}  {status}  {department.name_zh if department else consent.consumer_department} "
            f"办理「{matter.name_zh if matter else consent.matter}」可调取：{proofs}  "
            f"有效期至 {beijing_time(consent.expires_at)}")


@consent_group.command("grant")
@id_number_option("本人身份证号（仅用于计算主体标识，不保存明文）")
@click.option("--matter", required=True, help="事项代码，如 PUBLIC_RENTAL_HOUSING")
@click.option("--proof", "proofs", multiple=True, required=True, help="证明代码，可重复，如 --proof NO_HOUSING")
@click.option("--department", required=True, help="获授权调取的部门代码，如 ZJ")
@click.option("--days", type=click.IntRange(1, MAX_CONSENT_DAYS), default=90, show_default=True, help="有效天数")
def grant_command(id_number: str, matter: str, proofs: tuple[str, ...], department: str, days: int) -> None:
    """登记本人授权：同意某部门为办理某事项调取所列证明。"""
    key = _subject(id_number)
    with database_session() as session:
        catalog = live_catalog_as_published(session)
        try:
            consent = grant_consent(session, catalog, key, ConsentRequest(matter, proofs, department, days),
                                    channel=Channel.COUNTER)
        except UnknownCode as unknown:
            raise CliError(f"{unknown.detail_zh or unknown.detail}。", EXIT_NOT_FOUND) from None
        except InvalidInput as invalid:
            raise CliError(f"授权无效：{invalid.detail_zh or invalid.detail}。") from None
    click.echo(f"已登记 {mask_id_number(id_number.strip().upper())} 的授权：{_describe(catalog, consent)}")


@consent_group.command("withdraw")
@click.argument("consent_id")
def withdraw_command(consent_id: str) -> None:
    """撤回授权 CONSENT_ID（本人书面申请撤回时由窗口办理）。"""
    with database_session() as session:
        try:
            consent = withdraw_consent(session, consent_id, subject_key=None)
        except ConsentNotFound:
            raise CliError(f"没有编号为 {consent_id} 的授权。", EXIT_NOT_FOUND) from None
        assert consent.withdrawn_at is not None
        click.echo(f"授权 {consent.id} 已于 {beijing_time(consent.withdrawn_at)} 撤回。")


@consent_group.command("list")
@id_number_option("本人身份证号")
def list_command(id_number: str) -> None:
    """列出某人的全部授权（最新在前）。"""
    key = _subject(id_number)
    with database_session() as session:
        catalog = live_catalog_as_published(session)
        consents = list_consents(session, key)
    if not consents:
        click.echo(f"{mask_id_number(id_number.strip().upper())} 没有任何授权记录。")
    for consent in consents:
        click.echo(_describe(catalog, consent))
