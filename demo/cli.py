"""The demo's commands, added to `mianzheng` only in demo mode (`demo.extension.register_commands`):
`mianzheng demo ...` (the demo source departments' data, households, applications),
`mianzheng recheck enrol-demo` (the demo tenants) and `mianzheng license demo-export` (the demo
population's licenses as bulk-import files)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from api.cli.context import EXIT_NOT_FOUND, EXIT_NOT_READY, CliError, handling_context, settings
from api.runtime import Runtime
from catalog.loading import bundled_catalog_path, load_catalog
from demo.applications import PUBLIC_RENTAL_HOUSING, public_housing_request
from demo.data import (
    DEFAULT_RESIDENTS,
    DEFAULT_SEED,
    HOUSEHOLD_SITUATIONS,
    DemoDataMissing,
    DemoHousehold,
    demo_households,
    generate_demo_sources,
    sample_residents,
)
from demo.licenses import demo_exports
from demo.population import build_population
from demo.tenancies import DEMO_CLIENT_NAME, DEMO_DEPARTMENT, enrol_demo_tenancies
from exchange.applications.recheck import NoRecheck
from exchange.certificates.model import RELATIONS_ZH


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
            click.echo(f"  {member.name}\t{member.id_number}\t{RELATIONS_ZH.get(member.relation, member.relation)}")


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


@click.command("enrol-demo")
def enrol_demo_command() -> None:
    """登记演示数据中的公租房在租家庭（住建部门办理，柜台授权复核所需数据）；可重复运行。"""
    with handling_context() as ctx:
        try:
            enrolment = enrol_demo_tenancies(ctx, settings().sources_dir)
        except DemoDataMissing:
            raise CliError("尚无演示数据，请先运行 mianzheng init 或 mianzheng demo generate。", EXIT_NOT_READY) from None
        except NoRecheck:
            raise CliError(f"现行目录中没有事项 {PUBLIC_RENTAL_HOUSING} 的年度复核。", EXIT_NOT_FOUND) from None
    click.echo(f"已登记演示公租房在租家庭 {enrolment.enrolled} 户（演示数据共 {enrolment.tenants} 户，此前已登记的不重复登记），"
               f"办理部门 {DEMO_DEPARTMENT}，调用方 {enrolment.client_id}（{DEMO_CLIENT_NAME}）。")


@click.command("demo-export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--residents", default=10_000, show_default=True, help="演示人口规模（3 万人约 10 万本证照）")
def demo_export_command(folder: Path, residents: int) -> None:
    """按发证部门导出演示人口的全部证照（<部门>.jsonl），供试用和测量 license import。"""
    catalog, _ = Runtime.start(settings()).published_catalog()
    exports = demo_exports(build_population(DEFAULT_SEED, residents), catalog)
    folder.mkdir(parents=True, exist_ok=True)
    for department, lines in sorted(exports.items()):
        (folder / f"{department}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        click.echo(f"{department}.jsonl：{len(lines)} 本")
