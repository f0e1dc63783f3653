"""What every command shares: the settings, a database transaction, and the one error type
that ends a command with a one-line message and a documented exit code."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from api.settings import Settings

if TYPE_CHECKING:  # imported where used: every command imports this module, few use these
    from sqlalchemy.orm import Session

    from exchange.applications.context import HandlingContext
    from exchange.sources.directory import SourcesConfigInvalid

EXIT_INVALID = 1
EXIT_NOT_FOUND = 3
EXIT_NOT_READY = 4
EXIT_CONFLICT = 5
"""Another operation changed what the command relied on meanwhile: nothing was changed; look and retry."""
ID_NUMBER_INVALID_ZH = "身份证号无效：应为 18 位公民身份号码（末位可为 X），出生日期和校验码须正确，请逐位核对。"
CRL_NOT_THE_ROOTS_ZH = ("数据库中保存的印章证书吊销列表（CRL）不是城市根证书签发的（可能被替换），未签发新的吊销列表：新列表须保留"
                        "此前公布的每一项吊销。请先从备份恢复 seal_ca 表中的吊销列表，再运行本命令。")


class CliError(Exception):
    """Ends a command: `message` goes to stderr in one line, the process exits `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_INVALID) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def settings() -> Settings:
    return Settings.from_environment()


@contextmanager
def handling_context() -> Iterator[HandlingContext]:
    """The matter handlers' context for the live catalog, on a runtime of its own; a sources file
    that cannot be used is a `CliError` (`sources_file_error`)."""
    from api.application_services import build_handling_context
    from api.metrics import command_runtime
    from exchange.sources.directory import SourcesConfigInvalid

    current = command_runtime(settings())
    try:
        yield build_handling_context(current, *current.published_catalog())
    except SourcesConfigInvalid as invalid:
        raise sources_file_error(invalid) from None
    finally:
        current.engine.dispose()


def sources_file_error(invalid: SourcesConfigInvalid) -> CliError:
    """What an operator is told of a sources file that cannot be used (a department's records
    database moved away, a typo): one line, nothing done."""
    return CliError(f"数据来源配置文件有误（{invalid}），未作任何更改；请改正后再试。", EXIT_NOT_READY)


@contextmanager
def database_session() -> Iterator[Session]:
    """A session on the configured database, committed when the command succeeds."""
    from api.database import standalone_session

    with standalone_session(settings().database_url) as session:
        yield session


_FILE_TROUBLE_ZH = {
    errno.EROFS: "文件系统只读（以只读方式挂载），请检查挂载方式。",
    errno.ENOSPC: "磁盘已满，请释放空间后重试。",
    errno.EDQUOT: "磁盘配额已用完，请释放空间后重试。",
    errno.EACCES: "权限不足，请检查运行本命令的用户对该路径的权限。",
    errno.EPERM: "权限不足，请检查运行本命令的用户对该路径的权限。",
    errno.ENOTDIR: "路径中有一段不是目录，请检查所给路径。",
    errno.EEXIST: "该路径已存在，但不是目录，请检查所给路径。",
    errno.ENOENT: "路径中的文件夹不存在，请先创建或检查所给路径。",
    errno.EISDIR: "该路径是一个文件夹，请给出文件名。",
}
"""Why a file or folder could not be made or written (var/, or a folder a command writes to, such
as `seal export-trust DIR`), as an operator is told it."""


def file_trouble_zh(error: OSError) -> str | None:
    """The operator's word on a file or folder that could not be made or written; None for an
    error naming no file, or a name taken by another run at the same moment (a link's)."""
    if error.filename is None or (error.errno == errno.EEXIST and error.filename2 is not None):
        return None
    return _FILE_TROUBLE_ZH.get(error.errno)
