"""The `mianzheng` command line: set-up, serving, and the operators' commands.

Exit codes scripts can rely on: 0 done; 1 the input is invalid; 2 the command line is wrong;
3 the named thing does not exist; 4 the service's environment is not ready (database
unreachable or not initialised, or it or var/ cannot be written to). Errors are one line on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from api.cli import click_zh
from api.cli.context import EXIT_NOT_READY, CliError, file_trouble_zh
from api.cli.lazy_group import LazyCommand, LazyGroup
from api.extensions import demo_extension
from api.settings import Settings
from catalog.errors import NoCatalogPublished

_COMMANDS = {
    "init": LazyCommand("api.cli.setup_commands", "init_command",
                        "初始化：创建数据目录，升级数据库结构，尚无目录时发布随附目录。可重复运行。"),
    "serve": LazyCommand("api.cli.setup_commands", "serve_command",
                         "用 gunicorn 启动服务（请先运行 mianzheng init），并在独立进程中运行定时任务。"),
    "catalog": LazyCommand("api.cli.catalog_commands", "catalog_group", "证明事项目录：校验、发布、查看。"),
    "seal": LazyCommand("api.cli.seal_commands", "seal_group",
                        "电子印章：城市根证书、部门印章的签发、轮换、吊销和信任材料导出。"),
    "client": LazyCommand("api.cli.client_commands", "client_group",
                          "部门业务系统（调用方）：登记、列出、吊销、轮换访问令牌。"),
    "consent": LazyCommand("api.cli.consent_commands", "consent_group",
                           "本人授权：登记、撤回、查询（柜台代办；群众也可在线办理）。"),
    "audit": LazyCommand("api.cli.audit_commands", "audit_group", "访问日志审计。"),
    "connector": LazyCommand("api.cli.source_commands", "connector_group",
                             "部门数据源连接器（参考实现）：以独立进程提供一个部门的数据查询接口。"),
    "keys": LazyCommand("api.cli.key_commands", "keys_group", "加密密钥环：查看、轮换、重新加密、停用旧密钥（不显示密钥内容）。"),
    "receipt": LazyCommand("api.cli.receipt_commands", "receipt_group", "数据共享回执：离线核验。"),
    "certificate": LazyCommand("api.cli.certificate_commands", "certificate_group",
                               "电子证明：窗口代为开具、列出、撤销。"),
    "verify": LazyCommand("api.cli.verify_commands", "verify_command",
                          "离线核验电子证明 CERTIFICATE_FILE：PDF、机读凭证（JWS 文本文件）或二维码内容（MZ2: 或 MZ1: 开头的文本文件）。"),
    "applications": LazyCommand("api.cli.application_commands", "applications_group",
                                "办事申请：恢复等待来源部门的申请。"),
    "commitments": LazyCommand("api.cli.application_commands", "commitments_group", "告知承诺：事后核查与核查结果。"),
    "jobs": LazyCommand("api.cli.application_commands", "jobs_group", "定时任务。"),
    "recheck": LazyCommand("api.cli.recheck_commands", "recheck_group",
                           "年度复核：逐户重新核验在保家庭是否仍符合条件（可中断，可续跑）。"),
    "license": LazyCommand("api.cli.license_commands", "license_group", "电子证照库：存量证照导入、离线核验。"),
}
"""Every command of the product, imported when it runs (see api/cli/lazy_group.py); in demo mode
the demo part adds its own (`api.extensions`)."""

click_zh.install()


@click.group(cls=LazyGroup, lazy=_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mianzheng", prog_name="mianzheng")
def cli() -> None:
    """免证 mianzheng：无证明城市数据共享与电子证明服务。"""


def main(args: Sequence[str] | None = None) -> None:
    """Run the command line `args` (default: the process's arguments) and exit with its code."""
    try:
        _install_commands()
        cli.main(args=args, standalone_mode=False)
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
    except OSError as error:
        trouble = file_trouble_zh(error)
        if trouble is None:
            raise
        click.echo(f"错误：无法写入 {error.filename}：{trouble}", err=True)
        sys.exit(EXIT_NOT_READY)
    except Exception as error:
        if _is_missing_secret(error):
            click.echo(f"错误：缺少密钥材料，请先运行 mianzheng init，或在环境变量中提供（{error}）。", err=True)
            sys.exit(EXIT_NOT_READY)
        altered = _altered_zh(error)
        if altered is not None:
            click.echo(f"错误：{altered}", err=True)
            sys.exit(EXIT_NOT_READY)
        if not _is_database_error(error):
            raise
        click.echo(f"错误：{_database_trouble_zh(error)}", err=True)
        sys.exit(EXIT_NOT_READY)
    sys.exit(0)


def _install_commands() -> None:
    """The commands of this run: the product's, and in demo mode the demo's as well."""
    cli.reset(_COMMANDS)
    demo = demo_extension(Settings.from_environment())
    if demo is not None:
        demo.register_commands(cli)


def _is_missing_secret(error: Exception) -> bool:
    """Whether `error` says a secret is missing; a command that never read a secret raised none."""
    secrets = sys.modules.get("api.secrets")
    return secrets is not None and isinstance(error, secrets.SecretMissing)


def _altered_zh(error: Exception) -> str | None:
    """The operator's word on a stored record changed outside the exchange (the live catalog not
    as the access log's chain records its publication, a sealed value that no longer opens);
    None for any other error. Nothing of it was used."""
    operations, keyring = sys.modules.get("exchange.operations"), sys.modules.get("exchange.keyring")
    if operations is not None and isinstance(error, operations.CatalogNotAsPublished):
        return ("现行目录的存储内容与访问日志中的发布记录不符（已在交换平台之外被改动），本命令未使用它。请由目录管理员重新发布"
                "目录（mianzheng catalog publish），并请审计员运行 mianzheng audit verify 核查。")
    if keyring is not None and isinstance(error, keyring.SealedRecordAltered):
        return "所需的一项加密存储记录已在交换平台之外被改动，本命令未使用它。请审计员运行 mianzheng audit verify 核查。"
    return None


def _database_trouble_zh(error: Exception) -> str:
    """The operator's word on a database error: what is wrong, and what to do about it (running
    init mends only a database that was never initialised)."""
    from api.database_trouble import DatabaseTrouble, database_trouble, where

    server, name = where(Settings.from_environment().database_url)
    return {
        DatabaseTrouble.READ_ONLY: "数据库只读，无法写入（var/ 目录或数据库文件以只读方式挂载或不可写），请检查挂载方式和文件权限。",
        DatabaseTrouble.FULL: "磁盘已满，数据库无法写入，请释放 var/ 所在磁盘的空间后重试。",
        DatabaseTrouble.STORAGE_ERROR: "数据库读写出错（磁盘 I/O 错误），可能是磁盘已满或存储故障，请检查 var/ 所在磁盘的空间和状态后重试。",
        DatabaseTrouble.UNREACHABLE: f"无法连接数据库（{server}）：请检查数据库服务是否在运行，以及 MIANZHENG_DATABASE_URL 是否正确。",
        DatabaseTrouble.LOGIN_REFUSED: f"数据库服务器（{server}）拒绝登录：用户不存在或密码不对，请检查 MIANZHENG_DATABASE_URL 中的用户名和密码。",
        DatabaseTrouble.FILE_UNOPENED: f"无法打开数据库文件 {name}：请检查其所在文件夹是否存在、是否可写。",
        DatabaseTrouble.MISSING: f"数据库 {name} 不存在：请先在数据库服务器上创建它（如 createdb {name}），再运行 mianzheng init。",
        DatabaseTrouble.UNINITIALISED: "数据库尚未初始化，请先运行 mianzheng init。",
    }.get(database_trouble(error), f"数据库不可用（{type(error).__name__}），请检查数据库服务和 MIANZHENG_DATABASE_URL；"
                                   "如是新数据库，请先运行 mianzheng init。")


def _is_database_error(error: Exception) -> bool:
    """Whether `error` is SQLAlchemy's; a command that never loaded SQLAlchemy raised none."""
    exceptions = sys.modules.get("sqlalchemy.exc")
    return exceptions is not None and isinstance(error, exceptions.SQLAlchemyError)
