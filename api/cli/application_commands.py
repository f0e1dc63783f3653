"""`mianzheng applications ...`, `mianzheng commitments ...` and `mianzheng jobs run`: the
operators' side of matter handling — resume applications that wait for a source, run
告知承诺事后核查 and list what it found, and run the scheduled jobs in the foreground."""

from __future__ import annotations

import click

from api.cli.context import handling_context, settings
from api.jobs import DEFAULT_INTERVAL_SECONDS, run_jobs
from catalog.city_time import beijing_time
from exchange.applications.post_check import due_commitments, verify_commitments
from exchange.applications.reading import department_commitments
from exchange.applications.records import CommitmentStatus
from exchange.applications.service import resume_due


@click.group("applications")
def applications_group() -> None:
    """办事申请：恢复等待来源部门的申请。"""


@applications_group.command("resume")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100000), help="本次最多处理的申请数")
def resume_command(limit: int) -> None:
    """重新核验等待来源部门应答（或处理中断）的申请；来源部门恢复后即可完成判定。"""
    with handling_context() as ctx:
        resumed = resume_due(ctx, limit)
    click.echo(f"已重新核验 {len(resumed)} 件申请。")


@click.group("commitments")
def commitments_group() -> None:
    """告知承诺：事后核查与核查结果。"""


@commitments_group.command("verify")
@click.option("--limit", default=None, type=click.IntRange(1, 1000000), help="本次最多核查的承诺数")
def verify_command(limit: int | None) -> None:
    """事后核查：向来源部门重新调取承诺事项的数据，逐项标记属实或不实；不实的申请标记为需复核。"""
    with handling_context() as ctx:
        due = due_commitments(ctx, limit)
        with click.progressbar(length=len(due), label="事后核查") as bar:
            report = verify_commitments(ctx, due, progress=lambda _status: bar.update(1))
        click.echo(f"核查属实 {report.confirmed} 件，不实 {report.false} 件，转现场核查 {report.on_site} 件，"
                   f"来源部门暂不可用、稍后再查 {report.still_pending} 件。")
        for commitment_id in report.false_ids:
            click.echo(f"  不实：承诺 {commitment_id}")


@commitments_group.command("list")
@click.option("--department", required=True, help="办理部门代码，如 ZJ")
@click.option("--status", type=click.Choice([status.value for status in CommitmentStatus]), default=None,
              help="只列出该核查状态，如 false（不实）")
def list_command(department: str, status: str | None) -> None:
    """列出办理部门的告知承诺及其事后核查结果（最新在前）。"""
    with handling_context() as ctx:
        rows = department_commitments(ctx, department, CommitmentStatus(status) if status else None)
    for row in rows:
        click.echo(f"{row['id']}  {row['status_zh']}  {row['proof_name_zh']}  申请 {row['application_id']}  "
                   f"签署于 {beijing_time(row['signed_at'])}  {row['verification_detail'] or ''}".rstrip())
    click.echo(f"共 {len(rows)} 件。")


@click.group("jobs")
def jobs_group() -> None:
    """定时任务。"""


@jobs_group.command("run")
@click.option("--interval", default=DEFAULT_INTERVAL_SECONDS, show_default=True, type=click.FloatRange(min=1),
              help="间隔秒数")
def jobs_run_command(interval: float) -> None:
    """在前台运行定时任务（恢复等待中的申请、告知承诺事后核查），按 Ctrl+C 停止。"""
    from api.metrics import command_runtime

    click.echo(f"定时任务已启动，每 {interval:g} 秒运行一次。")
    configured = settings()
    run_jobs(configured, interval, current=command_runtime(configured))
