"""The command line speaks Chinese throughout, click's own usage and error lines included, and
says its version."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from click.testing import CliRunner

from api.cli import cli

ENGLISH_CLICK = ("Usage", "Error", "Options", "Commands", "Show this message", "Missing", "Try '", "No such",
                 "is not one of", "Invalid value", "OPTIONS", "COMMAND", "ARGS")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="mianzheng")
    return result.exit_code, result.output


def test_version() -> None:
    code, output = run("--version")
    assert code == 0 and output.strip() == f"mianzheng 版本 {version('mianzheng')}"


@pytest.mark.parametrize(("args", "usage"), [
    (["--help"], "用法：mianzheng [选项] 命令 [参数]..."),
    (["certificate", "--help"], "用法：mianzheng certificate [选项] 命令 [参数]..."),
    (["certificate", "issue", "--help"], "用法：mianzheng certificate issue [选项]"),
    (["verify", "--help"], "用法：mianzheng verify [选项] CERTIFICATE_FILE"),
])
def test_help_is_chinese(args: list[str], usage: str) -> None:
    code, output = run(*args)
    assert code == 0 and output.splitlines()[0] == usage and "显示本帮助并退出。" in output
    assert not [word for word in ENGLISH_CLICK if word in output]
    # headings in Chinese punctuation, as every message of the commands is written
    assert "选项：" in output and not [line for line in output.splitlines() if line.rstrip().endswith(":")]


@pytest.mark.parametrize(("args", "says"), [
    (["certificate", "issue"], "错误：缺少选项 '--id-number'。\n"),
    (["nope"], "错误：没有命令 'nope'。"),
    (["certificate", "revoke", "X", "--reason", "zz"], "错误：'--reason' 的取值无效：'zz' 不是"),
    (["certificate", "list", "--nope"], "错误：没有选项 '--nope'。"),
    (["certificate", "revoke", "X"], "错误：缺少选项 '--reason'。可选：\n\tunspecified,"),
])
def test_command_line_mistakes_are_explained_in_chinese(args: list[str], says: str) -> None:
    code, output = run(*args)
    assert code == 2 and says in output and "查看帮助" in output
    assert not [word for word in ENGLISH_CLICK if word in output]
