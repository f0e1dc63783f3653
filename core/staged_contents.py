"""Replacing what a folder holds as a whole, or not at all.

A folder others read while it is rewritten (the trust material an offline verifier loads) must
never be left half new: a full disk in the middle of an export would leave new files beside old
ones, or a file cut short. `staged_contents` gives a staging folder inside the target; once
everything is written there, each entry is moved into place by a rename (which needs no free
space), the entries named `last` after all others and removed before any, so a file that vouches
for the rest (the export's time) is never beside an older rest. A failure while staging leaves the
folder as it was, and names the target (an ENOSPC from `write()` names no file)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_contents(target: Path, last: Sequence[str] = ()) -> Iterator[Path]:
    """A folder to write `target`'s new entries into; they replace `target`'s of the same names
    when the block ends without an error, and are removed otherwise."""
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target))
    os.chmod(staging, 0o755)  # mkdtemp's 0700: what is staged is as public as the folder
    try:
        yield staging
    except OSError as failed:
        shutil.rmtree(staging, ignore_errors=True)
        raise OSError(failed.errno, failed.strerror, _named(failed.filename, staging, target)) from failed
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        for name in last:
            (target / name).unlink(missing_ok=True)
        names = sorted(entry.name for entry in staging.iterdir())
        for name in [*(n for n in names if n not in last), *(n for n in names if n in last)]:
            _replace(staging / name, target / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _named(filename: str | None, staging: Path, target: Path) -> str:
    """The path an operator is told could not be written: its place in `target`, not the staging's."""
    if filename is None:
        return str(target)
    written = Path(filename)
    return str(target / written.relative_to(staging)) if written.is_relative_to(staging) else filename


def _replace(new: Path, old: Path) -> None:
    """Move `new` to `old`'s name: a file by one rename, a folder by moving the old one aside first."""
    if new.is_dir() and old.is_dir():
        aside = old.with_name(f".old-{old.name}-{os.getpid()}")
        old.rename(aside)
        new.rename(old)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        new.replace(old)
