"""The live child processes of a process, read from /proc (Linux), for tests that kill workers."""

from __future__ import annotations

from pathlib import Path


def process_name(pid: int) -> str:
    """The name of process `pid` as `ps -o comm` shows it ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def child_processes(pid: int) -> dict[int, str]:
    """The live (not zombie) children of `pid`: their command lines."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            children[int(entry.name)] = command
    return children
