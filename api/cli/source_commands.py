"""`mianzheng connector serve`: the reference connector of one source department, a separate
process (the demo source departments' data is `demo.cli`'s)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from api.cli.context import EXIT_NOT_FOUND, EXIT_NOT_READY, CliError, settings
from api.connector_app import create_connector_app
from api.server import serve
from catalog.loading import bundled_catalog_path, load_catalog
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
    target = _records_database(department, database)

    def ready(base: str) -> str:
        return f"{department} 数据源连接器已启动：{base}/v1/records/query\n  OpenAPI：{base}/openapi.json"

    serve(host, port, workers, app_factory=lambda: create_connector_app(department, target, token, catalog),
          ready_message=ready)


def _records_database(department: str, database: str | None) -> str:
    """The department's records database as given (a URL is the database server's to check), or
    its default file; a SQLite file that is not there stops the command before it serves."""
    if database is not None and "://" in database:
        return database
    path = Path(database) if database is not None else department_database(settings().sources_dir, department)
    if not path.is_file():
        hint = "演示环境可先运行 mianzheng demo generate 生成演示数据。" if settings().dev_idp else \
            "请用 --database 指定本部门的业务数据库（SQLite 文件路径或 SQLAlchemy URL），表结构见 docs/connectors.md。"
        raise CliError(f"部门数据库 {path} 不存在。{hint}", EXIT_NOT_READY)
    return str(path)


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
