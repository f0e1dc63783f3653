"""The `mianzheng` command line: set-up, serving, and the operators' commands.

Exit codes scripts can rely on: 0 done; 1 the input is invalid; 2 the command line is wrong;
3 the named thing does not exist; 4 the service's environment is not ready (database
unreachable or not initialised). Errors are one line on stderr.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from api.cli import click_zh
from api.cli.application_commands import applications_group, commitments_group, jobs_group
from api.cli.audit_commands import audit_group
from api.cli.catalog_commands import catalog_group
from api.cli.certificate_commands import certificate_group
from api.cli.client_commands import client_group
from api.cli.consent_commands import consent_group
from api.cli.context import EXIT_NOT_READY, CliError
from api.cli.receipt_commands import receipt_group
from api.cli.recheck_commands import recheck_group
from api.cli.seal_commands import seal_group
from api.cli.setup_commands import init_command, serve_command
from api.cli.source_commands import connector_group, demo_group
from api.cli.verify_commands import verify_command
from catalog.errors import NoCatalogPublished


click_zh.install()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mianzheng", prog_name="mianzheng")
def cli() -> None:
    """免证 mianzheng：无证明城市数据共享与电子证明服务。"""


cli.add_command(init_command)
cli.add_command(serve_command)
cli.add_command(catalog_group)
cli.add_command(seal_group)
cli.add_command(client_group)
cli.add_command(consent_group)
cli.add_command(audit_group)
cli.add_command(connector_group)
cli.add_command(demo_group)
cli.add_command(receipt_group)
cli.add_command(certificate_group)
cli.add_command(verify_command)
cli.add_command(applications_group)
cli.add_command(commitments_group)
cli.add_command(jobs_group)
cli.add_command(recheck_group)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("已取消。", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except CliError as error:
        click.echo(f"错误：{error.message}", err=True)
        sys.exit(error.exit_code)
    except NoCatalogPublished:
        click.echo("错误：尚未发布任何目录，请先运行 mianzheng init。", err=True)
        sys.exit(EXIT_NOT_READY)
    except SQLAlchemyError as error:
        click.echo(f"错误：数据库不可用或尚未初始化（{type(error).__name__}），请先运行 mianzheng init。", err=True)
        sys.exit(EXIT_NOT_READY)
    sys.exit(0)
