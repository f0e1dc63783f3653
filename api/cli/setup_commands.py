"""`mianzheng init` (idempotent set-up of the embedded default) and `mianzheng serve`."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import click

from api.cli.city_root import read_city_root
from api.cli.context import (CRL_NOT_THE_ROOTS_ZH, EXIT_NOT_READY, CliError, database_session, settings,
                             sources_file_error)
from api.identity_config import city_provider
from api.initialise import initialise
from api.secret_checks import SecretsNotRestored
from api.jobs import DEFAULT_INTERVAL_SECONDS
from api.jobs_supervisor import JobsSupervisor
from api.metrics import multiprocess_metrics
from api.server import serve
from api.settings import recorded_public_url
from catalog.versions import latest_version
from exchange.identity import InvalidKeyMaterial
from exchange.operations import live_catalog_as_published
from exchange.sources.directory import SourcesConfigInvalid, load_sources_file
from seals.errors import CaAlreadyExists, CrlNotTheRoots, KeyUnavailable


@click.command("init")
@click.option("--ca-cert", "ca_cert_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="采用本市已有的城市根证书（PEM），不在本机生成；须与 --ca-key 同时给出")
@click.option("--ca-key", "ca_key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="该根证书的私钥（PEM，可加密），导入后以本机口令加密保存")
@click.option("--ca-key-passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="加密私钥的口令文件")
def init_command(ca_cert_file: Path | None = None, ca_key_file: Path | None = None,
                 ca_key_passphrase_file: Path | None = None) -> None:
    """初始化：创建数据目录，升级数据库结构，尚无目录时发布随附目录。可重复运行。

    尚无城市根证书时在本机生成一个；用 --ca-cert/--ca-key 则采用本市已有的根证书，
    各部门印章都由它签发（先于任何写入检查，不合格则不作任何更改）。"""
    if (ca_cert_file is None) != (ca_key_file is None):
        raise click.UsageError("--ca-cert 与 --ca-key 须同时给出。")
    city_root = read_city_root(ca_cert_file, ca_key_file, ca_key_passphrase_file) \
        if ca_cert_file and ca_key_file else None
    try:
        report = initialise(settings(), city_root=city_root)
    except CaAlreadyExists as error:
        raise CliError(f"本安装已有城市根证书（{error}），与所给根证书不同；init 不更换根证书。") from None
    except SecretsNotRestored as error:  # a database restored without its secrets, or with others
        raise CliError(str(error), EXIT_NOT_READY) from None
    except CrlNotTheRoots:
        raise CliError(CRL_NOT_THE_ROOTS_ZH, EXIT_NOT_READY) from None
    except KeyUnavailable as error:  # e.g. a database restored without its keys folder
        raise CliError(f"无法读取私钥文件（{error}）：印章和城市根证书的私钥只保存在 {settings().key_dir} 中，"
                       f"须与数据库、口令一起备份和恢复；请放回该文件夹和口令后再运行。", EXIT_NOT_READY) from None
    for line in report:
        click.echo(line)
    click.echo("初始化完成。")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="监听端口")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="工作进程数")
@click.option("--jobs-interval", default=DEFAULT_INTERVAL_SECONDS, show_default=True, type=click.FloatRange(min=0),
              help="定时任务（恢复等待中的申请、告知承诺事后核查）间隔秒数；0 表示不在本机运行")
@click.option("--init", "initialise_first", is_flag=True,
              help="启动前先执行 mianzheng init（同一进程，省去再次加载程序的时间）")
def serve_command(host: str, port: int, workers: int, jobs_interval: float, initialise_first: bool) -> None:
    """用 gunicorn 启动服务（请先运行 mianzheng init），并在独立进程中运行定时任务。

    未设置 MIANZHENG_PUBLIC_URL、init 也未记录对外地址时，对外地址随 --host 与 --port 而定。"""
    _ensure_port_free(host, port)
    if "MIANZHENG_PUBLIC_URL" not in os.environ and recorded_public_url(settings().var_dir) is None:
        os.environ["MIANZHENG_PUBLIC_URL"] = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if initialise_first:
        init_command.callback()  # type: ignore[misc]
    with database_session() as session:
        if latest_version(session) is None:
            raise CliError("数据库尚未初始化，请先运行 mianzheng init。", EXIT_NOT_READY)
        current = settings()
        if current.sources_file is not None:  # what every pull would fail on: said now, not as 500s later
            try:
                load_sources_file(current.sources_file, live_catalog_as_published(session))
            except SourcesConfigInvalid as invalid:
                raise sources_file_error(invalid) from None

        try:  # what every sign-in would fail on (a 503): said now
            city_provider(current)
        except InvalidKeyMaterial as broken:
            raise CliError(f"身份认证配置有误，服务未启动：{broken}", EXIT_NOT_READY) from None
    with multiprocess_metrics(current.var_dir):
        serve(host=host, port=port, workers=workers,
              companion=JobsSupervisor(jobs_interval) if jobs_interval > 0 else None)


def _ensure_port_free(host: str, port: int) -> None:
    """`CliError` when `host:port` cannot be listened on (another server has it, or it needs
    rights this user lacks): said before init writes anything, not by the server's own bind
    errors after it. The socket is closed at once; the server binds again."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a closed
            probe.bind(address)                                          # connection's port is free
    except OSError as error:
        why = {errno.EADDRINUSE: "该端口已被占用（是否已有服务在运行？）", errno.EACCES: "无权使用该端口",
               errno.EADDRNOTAVAIL: "本机没有这个地址"}.get(error.errno or 0, "地址或端口不可用")
        raise CliError(f"无法在 {host}:{port} 上监听：{why}，未作任何更改。", EXIT_NOT_READY) from None
