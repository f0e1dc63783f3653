"""Command-line options that carry personal data.

An ID number typed as an argument stands in the process list, which every user of the machine
can read, and in the shell's history. `id_number_option` lets the operator leave it out: it is
then asked for on the terminal (the question on stderr, so stdout keeps only the command's
result), or read as one line from standard input when that is a pipe
(`printf '%s\\n' "$ID" | mianzheng consent list`). Where the number is optional (a verifier's
check of the holder, `optional_id_number_option`), `--id-number -` asks for it the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

PROMPT_ZH = "公民身份号码"
LEFT_OUT_ZH = "省略时在终端输入或从标准输入读取一行，不留在进程列表和命令历史中"


def id_number_option(help_zh: str) -> Callable[[F], F]:
    """The required `--id-number`, asked for when it is left out (see the module)."""
    return click.option("--id-number", default=None, callback=_asked_for_when_left_out,
                        help=f"{help_zh}；{LEFT_OUT_ZH}")


def optional_id_number_option(help_zh: str) -> Callable[[F], F]:
    """An optional `--id-number`, asked for when given as `-` (see the module)."""
    return click.option("--id-number", default=None, callback=_asked_for_when_dash,
                        help=f"{help_zh}；写作 - 时在终端输入或从标准输入读取一行，不留在进程列表和命令历史中")


def _asked_for_when_dash(context: click.Context, parameter: click.Parameter, value: str | None) -> str | None:
    return _asked_for_when_left_out(context, parameter, None) if value == "-" else value


def _asked_for_when_left_out(context: click.Context, parameter: click.Parameter, value: str | None) -> str:
    if value is not None:
        return value
    if sys.stdin.isatty():
        return str(click.prompt(PROMPT_ZH, err=True))
    line = sys.stdin.readline().strip()
    if not line:
        raise click.MissingParameter(ctx=context, param=parameter)
    return line
