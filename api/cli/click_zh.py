"""click's own messages in Chinese ("Usage:", "Error: Missing option …", "Show this message and
exit."), with Chinese punctuation in its help text (`ChineseHelpFormatter`), so the whole command
line speaks one language; `localise_usage` does the same for the
metavars of the usage line (`[OPTIONS]`, `COMMAND [ARGS]...`), which click keeps on each command.

click marks its messages for gettext (`_` and `ngettext` bound in each of its modules at import).
The one way to translate them without a compiled catalog in the process-wide gettext domain is
to rebind those names to a `gettext.NullTranslations` that knows the Chinese texts; `install`
does that and is the only place that touches click's modules (tests/api/test_cli_language.py
checks the output, so a click upgrade that moves a message shows up there).
"""

from __future__ import annotations

import gettext
import importlib

import click

MESSAGES_ZH: dict[str, str] = {
    "Usage:": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Positional arguments": "位置参数",
    "Show this message and exit.": "显示本帮助并退出。",
    "Show the version and exit.": "显示版本号并退出。",
    "%(prog)s, version %(version)s": "%(prog)s 版本 %(version)s",
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "运行 '{command} {option}' 查看帮助。",
    "Aborted!": "已取消。",
    "Missing command.": "缺少命令。",
    "No such command {name!r}.": "没有命令 {name!r}。",
    "No such option {name!r}.": "没有选项 {name!r}。",
    "Option {name!r} does not take a value.": "选项 {name!r} 不接受取值。",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Missing {param_type}": "缺少{param_type}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的取值无效：{message}",
    "Invalid value: {message}": "取值无效：{message}",
    "Choose from:\n\t{choices}": "可选：\n\t{choices}",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Value must be an iterable.": "取值必须是一组值。",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是目录。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是文件。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 不可读。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 不可写。",
    "{name} {filename!r} is not executable.": "{name} {filename!r} 不可执行。",
    "file": "文件",
    "directory": "目录",
    "path": "路径",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内。",
    "{value!r} is not a valid UUID.": "{value!r} 不是有效的 UUID。",
    "default: {default}": "默认：{default}",
    "env var: {var}": "环境变量：{var}",
    "required": "必填",
    "deprecated": "已弃用",
    "Do you want to continue?": "是否继续？",
    "Confirm the action without prompting.": "不经询问直接确认。",
    "unknown error": "未知错误",
}
PLURALS_ZH: dict[str, str] = {
    "Got unexpected extra argument ({args})": "多余的参数（{args}）",
    "Takes {nargs} values but 1 was given.": "需要 {nargs} 个值，只给了 1 个。",
    "Did you mean {possibility}?": "您是否要输入 {possibility}？",
    "Option {name!r} requires an argument.": "选项 {name!r} 需要一个取值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name!r} 需要 {nargs} 个取值。",
    "{value!r} is not {choice}.": "{value!r} 不是 {choice}。",
    "{value!r} is not one of {choices}.": "{value!r} 不是 {choices} 之一。",
    "{value!r} does not match the format {format}.": "{value!r} 不符合格式 {format}。",
    "{len_type} values are required, but {len_value} was given.": "需要 {len_type} 个值，给了 {len_value} 个。",
}
PLURAL_FORMS_ZH: dict[str, str] = {
    "Got unexpected extra arguments ({args})": "多余的参数（{args}）",
    "Takes {nargs} values but {len} were given.": "需要 {nargs} 个值，给了 {len} 个。",
    "(Did you mean one of: {possibilities}?)": "（您是否要输入以下之一：{possibilities}？）",
    "{value!r} does not match the formats {formats}.": "{value!r} 不符合格式 {formats}。",
    "{len_type} values are required, but {len_value} were given.": "需要 {len_type} 个值，给了 {len_value} 个。",
}
CLICK_MODULES = ("core", "exceptions", "formatting", "types", "decorators", "parser", "termui", "utils")


class ChineseMessages(gettext.NullTranslations):
    """click's English messages to Chinese; anything unknown stays as click wrote it."""

    def gettext(self, message: str) -> str:
        return MESSAGES_ZH.get(message, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return PLURALS_ZH.get(singular) or PLURAL_FORMS_ZH.get(plural) or (singular if n == 1 else plural)


class ChineseHelpFormatter(click.HelpFormatter):
    """click's help text with Chinese punctuation: 用法：mianzheng … and 选项：, not "用法： " and "选项:"."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, MESSAGES_ZH["Usage:"] if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading}：\n")


_ENGLISH_MISSING_MESSAGE = click.exceptions.MissingParameter.format_message


def _missing_message(self: click.exceptions.MissingParameter) -> str:
    """click's "Missing option '--x'. Choose from: …" ends the option's name with an English full
    stop, outside any message it translates: 缺少选项 '--x'。可选：… instead."""
    before, _, after = _ENGLISH_MISSING_MESSAGE(self).partition(".")
    return f"{before}。{after.lstrip()}"


def install() -> None:
    """Make every click module answer in Chinese, punctuated so (idempotent)."""
    click.Context.formatter_class = ChineseHelpFormatter
    click.exceptions.MissingParameter.format_message = _missing_message  # type: ignore[method-assign]
    messages = ChineseMessages()
    for name in CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = messages.gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = messages.ngettext  # type: ignore[attr-defined]


OPTIONS_METAVAR_ZH = "[选项]"
SUBCOMMAND_METAVAR_ZH = "命令 [参数]..."


def localise_usage(command: click.Command) -> click.Command:
    """`command` and every subcommand it holds, their usage lines' metavars in Chinese."""
    command.options_metavar = OPTIONS_METAVAR_ZH
    if isinstance(command, click.Group):
        command.subcommand_metavar = SUBCOMMAND_METAVAR_ZH
        for subcommand in command.commands.values():
            localise_usage(subcommand)
    return command
