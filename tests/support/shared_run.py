"""Set-up shared by the processes of one test run (the pytest-xdist workers): a folder of the
run, and things built once in it, under a file lock, by whichever process needs them first.

The controlling process (or the only one, without xdist) creates the folder when pytest starts,
hands it to the workers, and removes it, with what was started in it, when pytest ends.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

_FOLDER = pytest.StashKey[Path]()
WORKER_INPUT_KEY = "mianzheng_run_folder"
"""How the folder's path reaches an xdist worker (in its `workerinput`)."""


def create_run_folder(config: pytest.Config) -> None:
    """Called once per run, in the controlling process."""
    config.stash[_FOLDER] = Path(tempfile.mkdtemp(prefix="mianzheng-run-"))


def run_folder(config: pytest.Config) -> Path:
    """The run's folder, in the controlling process or in a worker."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return Path(workerinput[WORKER_INPUT_KEY])
    return config.stash[_FOLDER]


def remove_run_folder(config: pytest.Config, before: Callable[[Path], None]) -> None:
    """Called once per run, in the controlling process, at the end: `before(folder)`, then removal."""
    folder = config.stash.get(_FOLDER, None)
    if folder is None:
        return
    try:
        before(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def run_lock(folder: Path, name: str) -> Iterator[None]:
    """Held by one process of the run at a time."""
    with open(folder / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def built_once(folder: Path, name: str, build: Callable[[Path], None],
               meanwhile: Callable[[], None] | None = None) -> Path:
    """`folder / name`, filled by `build(path)` in the first process that asks; the others wait
    for it, doing `meanwhile()` first (e.g. building something else they will need). A build that
    fails leaves nothing behind, and the next one to ask tries again."""
    target = folder / name
    with open(folder / f"{name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if meanwhile is not None:
                meanwhile()
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".built").exists():
            _build(target, build)
    return target


def build_unless_busy(folder: Path, name: str, build: Callable[[Path], None]) -> None:
    """Build `folder / name` as `built_once` does, unless it is built or another process is at it."""
    with open(folder / f"{name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        if not (folder / name / ".built").exists():
            _build(folder / name, build)


def _build(target: Path, build: Callable[[Path], None]) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    try:
        build(target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    (target / ".built").touch()
