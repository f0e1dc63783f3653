"""Folders and files that hold secrets or personal data: readable by the installation's user only.

`mkdir(mode=0o700)` is not enough: the mode is filtered by the umask, and ignored for a folder
that exists already (made by hand, by a copy, by an earlier version); and SQLite creates its
files with the umask's 0644. These make them private whatever was there before; `synced` and
`sync_dir` put a key written now on disk before anything that uses it is committed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, TextIO


def private_dir(path: Path) -> Path:
    """`path` as a folder only its owner can enter (0700), created with its parents if missing."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> None:
    """Make an existing file readable and writable by its owner only (0600)."""
    os.chmod(path, 0o600)


def synced(file: BinaryIO | TextIO) -> None:
    """Have what was written to `file` on disk before going on (a power cut after would lose it)."""
    file.flush()
    os.fsync(file.fileno())


def sync_dir(path: Path) -> None:
    """Have the names in the folder `path` (a file just made, linked or removed there) on disk."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_private_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` as a file only its owner can read (0600), from its creation on. A
    write that fails (a full disk) leaves no file cut short, and the error names the file."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), 0o600)  # a file that was there keeps its mode through O_CREAT
            file.write(data)
    except OSError as failed:
        path.unlink(missing_ok=True)
        raise OSError(failed.errno, failed.strerror, str(path)) from failed
