"""`mianzheng catalog ...`: validate, publish and show the data catalog. A publication is an entry
of the access log's chain (`exchange.operations`), with the operator and what the version records
of its publisher, note and content."""

from __future__ import annotations

from typing import Any

import json
from pathlib import Path

import click
from sqlalchemy.exc import IntegrityError

from catalog.views import department_view, matter_view, proof_view
from catalog.city_time import beijing_time
from api.catalog_publication import consents_short, departments_without_seals, publication_problems, seal_renames
from api.cli.context import EXIT_CONFLICT, EXIT_NOT_FOUND, EXIT_NOT_READY, CliError, database_session, settings
from catalog.errors import CatalogInvalid, LiveVersionChanged
from catalog.loading import load_catalog
from catalog.model import Catalog
from catalog.versions import latest_version, list_versions, version_numbered
from exchange.operations import console_operator, console_user, live_catalog_as_published, publish_recorded

PATH_ARGUMENT = click.Path(exists=True, path_type=Path)


@click.group("catalog")
def catalog_group() -> None:
    """证明事项目录：校验、发布、查看。"""


def _load_or_fail(path: Path) -> Catalog:
    """The catalog at `path`, as this installation can publish it (`publication_problems`)."""
    try:
        catalog = load_catalog(path)
        problems = publication_problems(catalog, settings().exchange_department)
    except CatalogInvalid as invalid:
        problems = list(invalid.problems)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise CliError(f"目录无效，共 {len(problems)} 处问题，未作任何更改。")
    return catalog


def _summary(catalog: Catalog) -> str:
    return f"{len(catalog.departments)} 个部门，{len(catalog.proofs)} 项证明，{len(catalog.matters)} 个事项"


@catalog_group.command("validate")
@click.argument("path", type=PATH_ARGUMENT)
def validate_command(path: Path) -> None:
    """校验目录（PATH 为含 departments/proofs/matters.yaml 的目录，或单个 JSON/YAML 文件）。"""
    catalog = _load_or_fail(path)
    click.echo(f"目录有效：{_summary(catalog)}；内容摘要 sha256:{catalog.content_hash()}")


@catalog_group.command("publish")
@click.argument("path", type=PATH_ARGUMENT)
@click.option("--by", "published_by", default=None, help="发布人（默认：当前系统用户）")
@click.option("--note", default=None, help="发布说明")
@click.option("--base", type=click.IntRange(0), default=None,
              help="所编辑目录依据的现行版本号；发布时现行版本已不是它则不发布（防止覆盖同事刚发布的版本）")
def publish_command(path: Path, published_by: str | None, note: str | None, base: int | None) -> None:
    """校验并发布目录为现行版本；内容与现行版本相同则不新建版本。"""
    catalog = _load_or_fail(path)
    try:
        with database_session() as session:
            outcome = publish_recorded(session, catalog, published_by or console_user(), note, console_operator(),
                                       base=base)
    except IntegrityError:  # the version number it took was published meanwhile
        raise CliError("另一次发布与本次同时进行并已先完成，本次未发布；请用 mianzheng catalog versions 查看现行版本后再发布。",
                       EXIT_CONFLICT) from None
    except LiveVersionChanged as changed:
        raise CliError(f"现行目录已是第 {changed.live} 版，不是所依据的第 {base} 版，本次未发布；请在第 {changed.live} 版上"
                       "重新编辑后再发布。", EXIT_CONFLICT) from None
    version = outcome.version
    if outcome.created:
        click.echo(f"已发布目录第 {version.number} 版（{_summary(catalog)}），sha256:{version.content_hash}")
    else:
        click.echo(f"内容与现行第 {version.number} 版相同，未新建版本。")
    with database_session() as session:
        for notice in departments_without_seals(session, catalog) + seal_renames(session, catalog) \
                + consents_short(session, catalog):
            click.echo(notice)


@catalog_group.command("versions")
def versions_command() -> None:
    """列出已发布的目录版本（最新者为现行版本）。"""
    with database_session() as session:
        versions = list_versions(session)
    if not versions:
        raise CliError("尚未发布任何目录，请先运行 mianzheng init。", EXIT_NOT_READY)
    for v in versions:
        click.echo(f"第 {v.number} 版  {beijing_time(v.published_at)}  {v.published_by}  "
                   f"sha256:{v.content_hash[:16]}…  {v.note or ''}".rstrip())


@catalog_group.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", "number", type=click.IntRange(1), default=None, help="版本号（默认：现行版本）")
def export_command(out: Path, number: int | None) -> None:
    """把已发布的一版目录写成 JSON 文件 OUT：可据以编辑后发布（--base 给出其版本号），或原样再发布以回退。"""
    with database_session() as session:
        version = latest_version(session) if number is None else version_numbered(session, number)
        if version is None:
            raise CliError("尚未发布任何目录，请先运行 mianzheng init。" if number is None else
                           f"没有第 {number} 版目录（mianzheng catalog versions 列出已发布的版本）。", EXIT_NOT_FOUND)
        document, number = version.document, version.number
    out.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    click.echo(f"已将目录第 {number} 版写入 {out}；编辑后发布时请加 --base {number}，"
               "以免覆盖此后他人发布的版本。")


@catalog_group.command("show")
@click.argument("code", required=False)
def show_command(code: str | None) -> None:
    """查看现行目录；给出 CODE（部门、证明或事项代码）时显示该条目详情。"""
    with database_session() as session:
        version = latest_version(session)
        catalog = live_catalog_as_published(session)
    if code is None:
        click.echo(f"现行目录第 {version.number} 版：{_summary(catalog)}")
        for matter in catalog.matters.values():
            click.echo(f"  {matter.code:<34} {matter.name_zh}")
        for constant in catalog.city.values():
            click.echo(f"城市标准：{constant.name_zh} {constant.value:g} {constant.unit_zh}（city.{constant.name}）")
        return
    click.echo(_describe(catalog, code))


def _describe(catalog: Catalog, code: str) -> str:
    if code in catalog.departments:
        d = department_view(catalog.departments[code])
        return (f"部门 {d['code']}：{d['legal_name_zh']}（{d['name_zh']}，{d['name_en']}）\n"
                f"统一社会信用代码：{d['uscc']}")
    if code in catalog.proofs:
        p = proof_view(catalog, catalog.proofs[code])
        items = "、".join(f"{i['name_zh']}（{i['name']}）" for i in p["data_items"]) or "无"
        validity = f"{p['validity_days']} 天" if p["validity_days"] else "—"
        check = p["verification"]
        post_check = "部门现场核查" if check is None else \
            f"调取{check['proof_name_zh']}，{'按规则核对：' + check['expression'] if check['expression'] else '与承诺内容逐项比对'}"
        text = (f"证明 {p['code']}：{p['name_zh']}\n来源部门：{p['department_name_zh']}\n"
                f"默认办理方式：{p['mode_zh']}\n有效期：{validity}\n设定依据：{p['legal_basis_zh']}\n"
                f"数据项：{items}")
        return text + (f"\n告知承诺的事后核查：{post_check}" if p["commitment_text_zh"] else "")
    if code in catalog.matters:
        m = matter_view(catalog, catalog.matters[code])
        lines = [f"事项 {m['code']}：{m['name_zh']}（{m['domain_zh']}）", f"依据：{m['legal_basis_zh']}",
                 f"可调取部门：{'、'.join(m['consumers'])}", "所需证明："]
        for r in m["proofs"]:
            lines.append(f"  {r['proof_name_zh']}：{r['mode_zh']}，来源 {r['department_name_zh']}，适用 {r['scope_zh']}"
                         + ("；数据无法获取时可告知承诺替代" if r["commitment_fallback"] else ""))
            if r["condition_zh"] or r["when"]:
                lines.append(f"    条件：{r['condition_zh'] or ''}（{r['when'] or '—'}）")
        lines += [f"办理选项：{o['name_zh']}（{o['name']}，默认 {_option_default_zh(o)}）" for o in m["options"]]
        lines += [f"资格条件：{r['name_zh']}，不满足时{r['outcome_if_false_zh']}：{r['expression']}" for r in m["rules"]]
        lines += [f"优先条件：{p['name_zh']}：{p['expression']}" for p in m["priorities"]]
        lines += [f"联办部门：{v['name_zh']} — {v['department_name_zh']}（规则 {'、'.join(v['rules']) or '—'}）"
                  for v in m["services"]]
        if m["recheck"]:
            lines.append(f"{m['recheck']['name_zh']}：规则 {'、'.join(m['recheck']['rules'])}")
        return "\n".join(lines)
    raise CliError(f"现行目录中没有代码为 {code} 的部门、证明或事项。", EXIT_NOT_FOUND)


def _option_default_zh(option: dict[str, Any]) -> str:
    if option["type"] == "boolean":
        return "是" if option["default"] else "否"
    return str(option["values"].get(option["default"], option["default"]))
