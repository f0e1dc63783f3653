"""`mianzheng client ...`: department systems that call the exchange — register (the token is
shown once), list, revoke, rotate. Each registration, rotation and revocation is an entry of the
access log's chain, with the operator (`exchange.operations`).

The token goes alone to stdout, so a script can capture it (`TOKEN=$(mianzheng client add ...)`);
everything else, the warning that it is shown only once included, goes to stderr.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TypeVar

import click

from api.cli.context import EXIT_NOT_FOUND, CliError, database_session
from catalog.city_time import beijing_time
from exchange.clients import (
    DEFAULT_SCOPES,
    MAX_ROTATION_GRACE,
    ClientNotFound,
    ClientRecord,
    ClientRevoked,
    ClientScope,
    clients_unlike_chain,
    list_clients,
    register_client,
    revoke_client,
    rotate_client,
)
from exchange.errors import InvalidInput, UnknownCode
from exchange.operation_codes import Operation
from exchange.operations import console_operator, live_catalog_as_published, record_operation

SCOPE_ZH = {
    ClientScope.EXCHANGE_REQUEST: "调取证明数据",
    ClientScope.APPLICATIONS_WRITE: "办理事项申请",
    ClientScope.CERTIFICATES_REVOKE: "注销本部门电子证明",
    ClientScope.CATALOG_ADMIN: "管理证明清单（校验清单文件）",
    ClientScope.LICENSES_WRITE: "签发、换发和撤销本部门电子证照",
}
T = TypeVar("T")
SHOWN_ONCE = "访问令牌仅显示这一次，请立即妥善保存；系统只保存其摘要，无法找回（遗失请运行 mianzheng client rotate）。"


@click.group("client")
def client_group() -> None:
    """部门业务系统（调用方）：登记、列出、吊销、轮换访问令牌。"""


def _describe(record: ClientRecord) -> str:
    known = {scope.value for scope in ClientScope}  # a row edited by hand may hold anything
    scopes = "、".join(f"{scope}（{SCOPE_ZH[ClientScope(scope)]}）" if scope in known else scope
                      for scope in record.scope_list)
    return f"{record.public_id}  {record.department_code}  {record.name}  权限：{scopes}"


def _found(client_id: str, action: Callable[[], T]) -> T:
    """Run `action`, turning a missing or revoked client into the documented exit codes."""
    try:
        return action()
    except ClientNotFound:
        raise CliError(f"没有编号为 {client_id} 的调用方。", EXIT_NOT_FOUND) from None
    except ClientRevoked:
        raise CliError("该调用方已被吊销，不能再轮换；如需继续接入请重新登记。") from None


@client_group.command("add")
@click.argument("department")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice([s.value for s in ClientScope]),
              help="授予的权限，可重复；默认 exchange:request（调取证明数据）")
def add_command(department: str, name: str, scopes: tuple[str, ...]) -> None:
    """为部门 DEPARTMENT 登记业务系统 NAME，并签发访问令牌（仅显示一次）。"""
    with database_session() as session:
        catalog = live_catalog_as_published(session)
        try:
            record, token = register_client(session, catalog, department, name, scopes or DEFAULT_SCOPES,
                                            actor=console_operator())
        except UnknownCode:
            raise CliError(f"现行目录中没有部门 {department}。", EXIT_NOT_FOUND) from None
        except InvalidInput as invalid:
            raise CliError(f"无法登记：{invalid}") from None
    click.echo(f"已登记调用方：{_describe(record)}", err=True)
    click.echo(SHOWN_ONCE, err=True)
    click.echo(token)


@client_group.command("list")
def list_command() -> None:
    """列出所有调用方（不显示令牌）。"""
    with database_session() as session:
        records, unlike = list_clients(session), clients_unlike_chain(session)
    if not records:
        click.echo("尚未登记任何调用方。")
    for record in records:
        status = f"已吊销（{beijing_time(record.revoked_at)}）" if record.revoked_at else \
            "已吊销（访问日志记载其吊销，表中的吊销记录已被改动）" if record.revoked_in_chain else \
            "有效（表中的所属部门、权限或令牌已被改动，与访问日志中的登记记录不同；交换平台按日志记载认证）" \
            if record.public_id in unlike else "有效"
        rotated = f"，最近轮换 {beijing_time(record.rotated_at)}" if record.rotated_at else ""
        click.echo(f"{_describe(record)}  状态：{status}  登记于 {beijing_time(record.created_at)}{rotated}")


@client_group.command("revoke")
@click.argument("client_id")
def revoke_command(client_id: str) -> None:
    """吊销调用方 CLIENT_ID：其所有令牌立即失效（正在处理的数据请求也不再交付答复），且不可恢复。"""
    now = datetime.now(timezone.utc)
    with database_session() as session:
        record = _found(client_id, lambda: revoke_client(session, client_id, now=now))
        if record.revoked_at == now:  # not one revoked before
            record_operation(session, Operation.CLIENT_REVOKED, console_operator(), record.public_id,
                             department=record.department_code)
        click.echo(f"已吊销调用方 {record.public_id}（{record.department_code} {record.name}）。")


@client_group.command("rotate")
@click.argument("client_id")
@click.option("--grace-minutes", type=click.IntRange(0, int(MAX_ROTATION_GRACE.total_seconds() // 60)), default=0,
              show_default=True, help="旧令牌继续有效的分钟数（便于部门系统无中断切换）")
def rotate_command(client_id: str, grace_minutes: int) -> None:
    """为调用方 CLIENT_ID 签发新令牌（仅显示一次）；旧令牌立即或在宽限期后失效。"""
    with database_session() as session:
        grace, operator = timedelta(minutes=grace_minutes), console_operator()
        record, token = _found(client_id, lambda: rotate_client(session, client_id, grace=grace, actor=operator))
    ending = f"旧令牌在 {grace_minutes} 分钟后失效" if grace_minutes else "旧令牌已立即失效"
    click.echo(f"已为调用方 {record.public_id}（{record.department_code} {record.name}）签发新令牌，{ending}。", err=True)
    click.echo(SHOWN_ONCE, err=True)
    click.echo(token)
