"""`mianzheng --help` starts without the web app, the PDF stack or the database layer, and
still lists every command with the summary the command itself gives."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest

from api.cli import _COMMANDS, cli
from tests.support.cli import run_cli


@pytest.mark.parametrize("dev_idp", ["0", "1"])
def test_help_loads_no_heavy_stack(dev_idp: str) -> None:
    """Not in production, and not in demo mode, where the demo part adds its commands."""
    # a fresh interpreter: what `mianzheng --help` loads is only visible from outside this process
    heavy = ["flask", "pyhanko", "reportlab", "sqlalchemy", "cryptography", "api.app", "exchange", "seals"]
    script = ("import sys, api.cli\ntry:\n    api.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
              f"print(sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**os.environ, "MIANZHENG_DEV_IDP": dev_idp}).stderr.strip()
    assert loaded == "[]"


@pytest.mark.parametrize(("dev_idp", "demo_commands"), [("0", []), ("1", ["demo"])])
def test_help_lists_every_command_with_its_own_summary(dev_idp: str, demo_commands: list[str]) -> None:
    """The product's commands; in demo mode (MIANZHENG_DEV_IDP) the demo's as well."""
    result = run_cli({**os.environ, "MIANZHENG_DEV_IDP": dev_idp}, "--help")
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.split("命令：")[1].splitlines() if line.strip()]
    assert listed == sorted([*_COMMANDS, *demo_commands])
    context = click.Context(cli)
    for name, entry in cli.lazy.items():  # this run's table
        command = cli.get_command(context, name)
        assert command is not None and command.name == name
        assert entry.summary == command.get_short_help_str(limit=1000), name


def test_a_subcommand_loads_when_it_runs() -> None:
    result = run_cli(dict(os.environ), "catalog", "--help")
    assert result.returncode == 0 and "validate" in result.stdout


@pytest.mark.parametrize(("dev_idp", "present"), [("1", True), ("0", False)])  # demo first: it must not stick
def test_the_demo_adds_its_commands_to_the_product_groups_only_in_demo_mode(dev_idp: str, present: bool) -> None:
    for group, command in (("license", "demo-export"), ("recheck", "enrol-demo")):
        result = run_cli({**os.environ, "MIANZHENG_DEV_IDP": dev_idp}, group, "--help")
        assert result.returncode == 0, result.stderr
        assert (f"  {command} " in result.stdout) is present, result.stdout
