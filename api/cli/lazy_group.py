"""A click group whose subcommands are imported only when one of them runs.

`mianzheng --help` lists every command from a table of names, modules and one-line summaries,
so it starts without importing the web app, the PDF stack or the database layer; a command's
module is imported when that command (or its own --help) is asked for. tests/api/test_cli.py
checks that each summary is the command's own short help. Commands can be added to a lazy
group (`add_lazy`, e.g. the demo's, see `api.extensions`) and to one of its subgroups; `reset`
returns to the table of one run.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from dataclasses import dataclass

import click

from api.cli.click_zh import localise_usage


@dataclass(frozen=True)
class LazyCommand:
    """Where a subcommand is defined (`module`, `attribute`) and its one-line `summary`."""

    module: str
    attribute: str
    summary: str

    def load(self) -> click.Command:
        command = getattr(importlib.import_module(self.module), self.attribute)
        assert isinstance(command, click.Command), f"{self.module}.{self.attribute} is not a click command"
        return command


class LazyGroup(click.Group):
    """A group of `lazy` subcommands (name -> LazyCommand), imported on first use."""

    def __init__(self, *args: object, lazy: Mapping[str, LazyCommand], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy)
        self.additions: dict[str, dict[str, LazyCommand]] = {}
        """Commands added to a subgroup: subgroup name -> command name -> where it is defined."""
        localise_usage(self)

    def reset(self, lazy: Mapping[str, LazyCommand]) -> None:
        """Only the commands of `lazy` from now on (none loaded yet, nothing added)."""
        self.lazy = dict(lazy)
        self.additions = {}
        self.commands.clear()

    def add_lazy(self, name: str, command: LazyCommand, *, group: str | None = None) -> None:
        """Add `command` as `name`, to this group or to its subgroup `group`."""
        if group is None:
            self.lazy[name] = command
        else:
            self.additions.setdefault(group, {})[name] = command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            self.add_command(localise_usage(self._with_additions(cmd_name, self.lazy[cmd_name].load())), cmd_name)
        return super().get_command(ctx, cmd_name)

    def _with_additions(self, name: str, command: click.Command) -> click.Command:
        """`command`, or a copy of the group with the commands added to it (the module's own
        group object is left as it is, for the next run)."""
        additions = self.additions.get(name)
        if not additions:
            return command
        assert isinstance(command, click.Group), f"{name} is not a group"
        extended = copy.copy(command)
        extended.commands = {**command.commands, **{extra: lazy.load() for extra, lazy in additions.items()}}
        return extended

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from the summaries: listing imports nothing."""
        commands = [
            (name, self.commands.get(name) or click.Command(name, help=self.lazy[name].summary))
            for name in self.list_commands(ctx)
        ]
        commands = [(name, command) for name, command in commands if not command.hidden]
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _command in commands)
        with formatter.section("命令"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in commands])
