"""`mianzheng recheck ...`: 年度复核 of a matter's current beneficiaries — run (or resume) the
batch household by household with a progress bar, and list the runs (the demo adds `enrol-demo`).

Ctrl+C (SIGINT) or SIGTERM stops a run after the household in flight; running it again
resumes where it stopped. Households are shown by the first character of the head's name and
the masked ID number."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click

from api.cli.context import EXIT_NOT_FOUND, EXIT_NOT_READY, CliError, handling_context
from catalog.city_time import beijing_time
from catalog.model import Catalog
from exchange.applications.decision import Decision
from exchange.applications.recheck import (
    CHANGED,
    NoRecheck,
    RunBusy,
    RunReport,
    RunSummary,
    find_run,
    households_left,
    list_runs,
    open_run,
    recheck_matter,
    run_recheck,
    run_report,
)
from exchange.applications.recheck_records import WAITING, RunStatus

OUTCOME_ZH = {**{decision.value: decision.label_zh for decision in Decision}, WAITING: "待复核"}
RESUME_HINT = "再次运行 mianzheng recheck run 即从中断处继续。"


@contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """While the block runs, SIGINT (Ctrl+C) and SIGTERM set `stop` instead of ending the process."""
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@click.group("recheck")
def recheck_group() -> None:
    """年度复核：逐户重新核验在保家庭是否仍符合条件（可中断，可续跑）。"""


@recheck_group.command("run")
@click.option("--matter", default="PUBLIC_RENTAL_HOUSING", show_default=True, help="事项代码")
@click.option("--new", "new_run", is_flag=True, help="不续跑未完成的批次，开始新的复核批次")
@click.option("--limit", default=None, type=click.IntRange(1, 10_000_000), help="本次最多复核的户数（到达后停止，可续跑）")
def run_command(matter: str, new_run: bool, limit: int | None) -> None:
    """复核事项的全部在保家庭：向来源部门重新调取复核规则所需的数据并逐户判定，列出需要处理的家庭
    （需人工审核、不符合条件，或结论变化）及原因。
    有未完成的批次时从中断处继续；按 Ctrl+C 在当前一户完成后停止。"""
    with handling_context() as ctx:
        try:
            name_zh = _recheck_name(ctx.catalog, matter)
            run_id, started = open_run(ctx, matter, resume=not new_run)
            click.echo(f"开始新的{name_zh}批次 {run_id}。" if started else f"继续未完成的{name_zh}批次 {run_id}。")
            left = households_left(ctx, run_id)
            click.echo(f"本批次尚有 {left} 户待复核。")
            stop = threading.Event()
            with _stopping_on_signals(stop), click.progressbar(length=min(left, limit or left), label=name_zh) as bar:
                progress = run_recheck(ctx, run_id, progress=lambda _household: bar.update(1), stop=stop, limit=limit)
        except RunBusy:
            raise CliError("另一进程正在运行该复核批次，请等它结束（或异常退出两分钟后）再试。") from None
        _print_report(run_report(ctx, run_id))
    summary = progress.summary
    if summary.status is RunStatus.FINISHED:
        click.echo(f"复核批次 {summary.id} 已完成。")
    elif progress.stopped:
        click.echo(f"已停止：本批次已复核 {summary.decided}/{summary.total} 户。{RESUME_HINT}")
    else:  # not done: a timer running the command tells the operator so (exit 4)
        raise CliError(f"{summary.counts[WAITING]} 户因来源部门暂时无法应答尚待复核，来源部门恢复后{RESUME_HINT}",
                       EXIT_NOT_READY)


@recheck_group.command("report")
@click.argument("run_id", required=False)
def report_command(run_id: str | None) -> None:
    """再次列出某一复核批次（默认最新的批次）需要处理的家庭及原因。"""
    with handling_context() as ctx:
        run = find_run(ctx, run_id)
        if run is None:
            raise CliError("尚无复核批次。" if run_id is None else f"没有复核批次 {run_id}。", EXIT_NOT_FOUND)
        click.echo(f"复核批次 {run.id}（开始于 {beijing_time(run.started_at)}）。")
        if run.status is not RunStatus.FINISHED:  # stopped or killed: what follows is part of the households
            click.echo(f"本批次未完成：已复核 {run.decided}/{run.total} 户；{RESUME_HINT}")
        _print_report(run_report(ctx, run.id))


@recheck_group.command("status")
def status_command() -> None:
    """列出复核批次（最新在前）及其进度。"""
    with handling_context() as ctx:
        runs = list_runs(ctx)
        names = {code: matter.name_zh for code, matter in ctx.catalog.matters.items()}
    if not runs:
        click.echo("尚无复核批次。")
    newest: set[str] = set()
    for run in runs:
        if run.status is RunStatus.FINISHED:
            state = f"已完成（{beijing_time(run.finished_at)}）" if run.finished_at else "已完成"
        else:
            state = "未完成（已有更新的批次）" if run.matter in newest else "未完成"
        newest.add(run.matter)
        click.echo(f"{run.id}  {names.get(run.matter, run.matter)}  开始于 {beijing_time(run.started_at)}  {state}  "
                   f"已复核 {run.decided}/{run.total} 户，{_counts(run)}")


def _recheck_name(catalog: Catalog, matter_code: str) -> str:
    try:
        recheck = recheck_matter(catalog, matter_code).recheck
    except NoRecheck:
        raise CliError(f"现行目录中没有事项 {matter_code} 的年度复核。", EXIT_NOT_FOUND) from None
    assert recheck is not None
    return recheck.name_zh


def _counts(run: RunSummary) -> str:
    outcomes = "，".join(f"{label} {run.counts.get(outcome, 0)} 户" for outcome, label in OUTCOME_ZH.items())
    return f"{outcomes}；结论变化 {run.counts.get(CHANGED, 0)} 户"


def _print_report(report: RunReport) -> None:
    summary = report.summary
    click.echo(f"复核结果：共 {summary.total} 户，{_counts(summary)}。")
    if report.households:
        click.echo("需要处理的家庭（需人工审核、不符合条件，或结论变化）：")
    for household in report.households:
        outcome = (f"{OUTCOME_ZH[household.previous]} → {OUTCOME_ZH[household.outcome]}" if household.changed
                   else f"{OUTCOME_ZH[household.outcome]}（与上次相同）")
        reasons = ([f"未满足：{'、'.join(household.unmet)}"] if household.unmet else []) + \
                  [f"无法判断：{name}（{why}）" for name, why in household.undecided] + list(household.notes)
        click.echo(f"  {household.household}，{household.members} 口人：{outcome}"
                   + "".join(f"；{reason}" for reason in reasons))
    for reason in report.waiting_sources:
        click.echo(f"待复核原因：{reason}")
