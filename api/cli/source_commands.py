"""`mianzheng connector serve` (the reference connector of one source department, a
separate process) and `mianzheng demo ...` (the demo source departments' data)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import click

from api.cli.context import EXIT_NOT_FOUND, EXIT_NOT_READY, CliError, settings
from api.connector_app import create_connector_app
from api.server import serve
from catalog.loading import bundled_catalog_path, load_catalog
from exchange.applications.demo_applications import public_housing_request
from exchange.sources.demo_data import (
    DEFAULT_RESIDENTS,
    DEFAULT_SEED,
    HOUSEHOLD_SITUATIONS,
    DemoDataMissing,
    DemoHousehold,
    demo_households,
    generate_demo_sources,
    sample_residents,
)
from exchange.sources.directory import source_departments
from exchange.sources.records import department_database

TOKEN_ENV = "MIANZHENG_CONNECTOR_TOKEN"
TOKEN_MIN_LENGTH = 16


@click.group("connector")
def connector_group() -> None:
    """部门数据源连接器（参考实现）：以独立进程提供一个部门的数据查询接口。"""


@connector_group.command("serve")
@click.argument("department")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=9100, show_default=True, type=click.IntRange(1, 65535), help="监听端口")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="工作进程数")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help=f"交换平台访问令牌文件（默认读环境变量 {TOKEN_ENV}）")
@click.option("--database", default=None,
              help="部门数据库：SQLite 文件路径或 SQLAlchemy URL（默认 var/sources/部门代码.db）")
def connector_serve_command(department: str, host: str, port: int, workers: int, token_file: Path | None,
                            database: str | None) -> None:
    """用 gunicorn 启动部门 DEPARTMENT（如 BDC）的数据源连接器。"""
    catalog = load_catalog(bundled_catalog_path())
    if department not in source_departments(catalog):
        raise CliError(f"{department} 不是数据源部门，可选：{'、'.join(source_departments(catalog))}。", EXIT_NOT_FOUND)
    token = _token(token_file)
    if database is None:
        path = department_database(settings().sources_dir, department)
        if not path.is_file():
            raise CliError(f"部门数据库 {path} 不存在，请先运行 mianzheng demo generate。", EXIT_NOT_READY)
        database = str(path)
    target = database

    def ready(base: str) -> str:
        return f"{department} 数据源连接器已启动：{base}/v1/records/query\n  OpenAPI：{base}/openapi.json"

    serve(host, port, workers, app_factory=lambda: create_connector_app(department, target, token, catalog),
          ready_message=ready)


def _token(token_file: Path | None) -> str:
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise CliError(f"无法读取令牌文件 {token_file}：{error.strerror}。") from None
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise CliError(f"请用 --token-file 指定令牌文件，或设置环境变量 {TOKEN_ENV}。")
    if len(token) < TOKEN_MIN_LENGTH:
        raise CliError(f"令牌至少需要 {TOKEN_MIN_LENGTH} 个字符。")
    return token


@click.group("demo")
def demo_group() -> None:
    """演示数据：各数据源部门自己的数据库（确定性生成）。"""


@demo_group.command("generate")
@click.option("--residents", default=DEFAULT_RESIDENTS, show_default=True, type=click.IntRange(1, 1_000_000),
              help="居民人数（至少）")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int, help="随机种子：相同种子生成相同数据")
def demo_generate_command(residents: int, seed: int) -> None:
    """生成（或按相同种子重写）各数据源部门的演示数据库，位于 var/sources/。"""
    catalog = load_catalog(bundled_catalog_path())
    folder = settings().sources_dir
    written = generate_demo_sources(folder, catalog, residents=residents, seed=seed)
    for department, count in written.items():
        click.echo(f"{department} {catalog.departments[department].name_zh}：{count} 条记录")
    click.echo(f"已生成 {len(written)} 个部门的演示数据库（{residents} 名居民，种子 {seed}），位于 {folder}。")


@demo_group.command("residents")
@click.option("--count", default=4, show_default=True, type=click.IntRange(1, 100), help="人数")
def demo_residents_command(count: int) -> None:
    """列出几位演示居民（姓名、身份证号、户号、情况），用于试用数据共享。"""
    try:
        residents = sample_residents(settings().sources_dir, count)
    except DemoDataMissing:
        raise CliError("尚无演示数据，请先运行 mianzheng init 或 mianzheng demo generate。", EXIT_NOT_READY) from None
    click.echo("姓名\t身份证号\t户号\t情况")
    for resident in residents:
        click.echo(f"{resident.name}\t{resident.id_number}\t{resident.household_no or '—（非本市户籍）'}\t{resident.description}")


@demo_group.command("households")
@click.option("--situation", default="public_housing_eligible", show_default=True,
              type=click.Choice(sorted(HOUSEHOLD_SITUATIONS)), help="家庭情况")
@click.option("--count", default=3, show_default=True, type=click.IntRange(1, 100), help="户数")
def demo_households_command(situation: str, count: int) -> None:
    """列出几户演示家庭（成员姓名、身份证号、与户主关系），用于试用办事申请。"""
    for household in _households(situation, count):
        click.echo(f"{household.number or '—'}  {household.description}，人均月收入 {household.monthly_income_per_person} 元")
        for member in household.members:
            click.echo(f"  {member.name}\t{member.id_number}\t{member.relation}")


@demo_group.command("application")
@click.option("--situation", default="public_housing_eligible", show_default=True,
              type=click.Choice(sorted(HOUSEHOLD_SITUATIONS)), help="家庭情况")
@click.option("--index", default=0, show_default=True, type=click.IntRange(0, 99), help="第几户（从 0 起）")
@click.option("--request-id", default=None, help="申请请求编号（默认按时间生成）")
def demo_application_command(situation: str, index: int, request_id: str | None) -> None:
    """输出一户演示家庭的公租房申请（JSON），承诺内容按部门数据如实填写，可直接提交给申请接口。"""
    household = _households(situation, index + 1)[index:]
    if not household:
        raise CliError(f"没有第 {index} 户{HOUSEHOLD_SITUATIONS[situation]}的演示家庭。", EXIT_NOT_FOUND)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    body = public_housing_request(household[0], request_id or f"demo-{now:%Y%m%d%H%M%S}", signed_at=now)
    click.echo(json.dumps(body, ensure_ascii=False, indent=2))


def _households(situation: str, count: int) -> list[DemoHousehold]:
    try:
        return demo_households(settings().sources_dir, load_catalog(bundled_catalog_path()), situation, count)
    except DemoDataMissing:
        raise CliError("尚无演示数据，请先运行 mianzheng init 或 mianzheng demo generate。", EXIT_NOT_READY) from None
