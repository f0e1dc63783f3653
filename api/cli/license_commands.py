"""`mianzheng license ...`: the e-license library from the command line — bulk import of a
department's existing licenses (存量证照) from its JSONL export, resumable and idempotent, with a
progress bar, a report of rejected lines and the rate; and the demo population's exports, for
trying and measuring the import."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import click

from api.cli.context import EXIT_NOT_FOUND, CliError, settings
from api.license_services import build_library
from api.runtime import Runtime
from exchange.licenses.bulk_import import DEFAULT_BATCH, import_lines
from exchange.licenses.demo_licenses import demo_exports
from exchange.sources.demo_data import DEFAULT_SEED
from exchange.sources.demo_population import build_population


@click.group("license")
def license_group() -> None:
    """电子证照库：存量证照导入、演示数据导出。"""


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
        with export.open(encoding="utf-8") as counting:
            total = sum(1 for _ in counting)
        started = time.perf_counter()
        with export.open(encoding="utf-8") as lines, click.progressbar(length=total, label="导入证照",
                                                                     file=click.get_text_stream("stderr")) as bar:
            report = import_lines(current.sessions, build_library(current, catalog), department, lines,
                                  batch=batch, progress=bar.update)
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


@license_group.command("demo-export")
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
