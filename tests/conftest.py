"""Fixtures of the whole suite.

Database-backed tests take the `database_url` fixture and so run twice: on SQLite and on a
real PostgreSQL server. Each test gets a fresh installation copied from a template initialised
exactly as `mianzheng init` does it: the database, and the var/ folder beside it
(`tmp_path / "var"`: keys, secrets, source data). The PostgreSQL server and the two templates
are set up once per run and shared by its processes (tests/support/shared_run.py): a test
never changes a template, it gets a copy.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from api.app import create_app
from api.initialise import initialise
from api.settings import Settings
from tests.support import shared_run
from tests.support.live_server import serving
from tests.support.postgres import PostgresCluster, find_postgres_bin

IN_CI = os.environ.get("CI") == "true"
_database_numbers = itertools.count()
_CLUSTER_FILE = "postgres.json"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        shared_run.create_run_folder(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist's hook, before a worker starts: tell it the run's folder."""
    node.workerinput[shared_run.WORKER_INPUT_KEY] = str(shared_run.run_folder(node.config))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with a slow test first, each in its own order: a long test started last would
    leave the other processes idle at the end of the run (scripts/test lets them steal work)."""
    slow_modules = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_modules)


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        shared_run.remove_run_folder(config, before=_stop_cluster)


def _stop_cluster(folder: Path) -> None:
    if (folder / _CLUSTER_FILE).exists():
        PostgresCluster.load(folder / _CLUSTER_FILE).stop()


def settings_for(database_url: str, var_dir: Path) -> Settings:
    """Settings of a test installation: like the embedded default, with the dev identity provider,
    and statistics counted on every request (a test reads them before and after what it files)."""
    return Settings(var_dir=var_dir, database_url=database_url, public_url="http://127.0.0.1:8000", dev_idp=True,
                    statistics_max_age=0)


@pytest.fixture(scope="session")
def run_folder(pytestconfig: pytest.Config) -> Path:
    """The folder shared by the processes of this test run."""
    return shared_run.run_folder(pytestconfig)


@pytest.fixture(scope="session")
def postgres_cluster(run_folder: Path) -> PostgresCluster:
    """The run's PostgreSQL server, started by the first process that needs it."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        message = "PostgreSQL is not installed (Debian package postgresql)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with shared_run.run_lock(run_folder, "postgres"):
        if (run_folder / _CLUSTER_FILE).exists():
            return PostgresCluster.load(run_folder / _CLUSTER_FILE)
        cluster = PostgresCluster.in_temporary_folder(bin_dir)
        cluster.start()
        cluster.save(run_folder / _CLUSTER_FILE)
        return cluster


@pytest.fixture(scope="session")
def sqlite_template(run_folder: Path, request: pytest.FixtureRequest) -> Path:
    """A folder holding an initialised `template.db` and its `var/`."""

    def meanwhile() -> None:  # while another process builds it: the PostgreSQL one, unless taken
        if find_postgres_bin() is not None:
            cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
            shared_run.build_unless_busy(run_folder, "pg-template", _postgres_template_builder(cluster))

    return shared_run.built_once(run_folder, "sqlite-template", _build_sqlite_template, meanwhile)


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: PostgresCluster, run_folder: Path) -> Path:
    """The var/ folder of the initialised PostgreSQL database `template_mz`."""

    def meanwhile() -> None:  # while another process builds it: the SQLite one, unless taken
        shared_run.build_unless_busy(run_folder, "sqlite-template", _build_sqlite_template)

    return shared_run.built_once(run_folder, "pg-template", _postgres_template_builder(postgres_cluster),
                                 meanwhile) / "var"


def _build_sqlite_template(folder: Path) -> None:
    initialise(settings_for(f"sqlite:///{folder / 'template.db'}", folder / "var"))


def _postgres_template_builder(cluster: PostgresCluster) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        _admin(cluster, 'DROP DATABASE IF EXISTS "template_mz"')
        _admin(cluster, 'CREATE DATABASE "template_mz"')
        initialise(settings_for(cluster.database_url("template_mz"), folder / "var"))

    return build


def _admin(cluster: PostgresCluster, statement: str) -> None:
    engine = create_engine(cluster.database_url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def fresh_installation(request: pytest.FixtureRequest, engine: str, folder: Path) -> Iterator[str]:
    """A copy of the engine's template: the database (its URL) and `folder / "var"`."""
    if engine == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        _copy_var(template / "var", folder / "var")
        path = folder / "mianzheng.db"
        shutil.copyfile(template / "template.db", path)
        yield f"sqlite:///{path}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    _copy_var(request.getfixturevalue("postgres_template"), folder / "var")
    name = f"test_{os.getpid()}_{next(_database_numbers)}"  # unique among the run's processes
    # FILE_COPY copies the template's files (a checkpoint is cheap with fsync off): about 4 times
    # faster than the default WAL_LOG, which writes every block of a 17 MB template to the WAL
    _admin(cluster, f'CREATE DATABASE "{name}" TEMPLATE "template_mz" STRATEGY FILE_COPY')
    try:
        yield cluster.database_url(name)
    finally:
        _admin(cluster, f'DROP DATABASE "{name}" WITH (FORCE)')


CHANGED_SOURCES = {"BDC.db", "CL.db"}
"""The source databases some tests change in place, as the department's clerks would."""


def _copy_var(template: Path, var: Path) -> None:
    """A copy of a template's var/ in which the demo source databases (40 MB) are hard links,
    except those some tests change in place (`CHANGED_SOURCES`): an installation only reads
    them, and `mianzheng demo generate` replaces the files rather than writing into them."""

    def copy(source: str, target: str) -> None:
        path = Path(source)
        if path.parent.name == "sources" and path.name not in CHANGED_SOURCES:
            os.link(source, target)
        else:
            shutil.copy2(source, target)

    shutil.copytree(template, var, copy_function=copy)


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, initialised database on each engine, with its var/ at `tmp_path / "var"`."""
    with fresh_installation(request, request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=ENGINES)
def module_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A fresh installation on each engine shared by the tests of a module: for tests that each
    add their own data and read only that, against servers started once per module."""
    folder = tmp_path_factory.mktemp("installation")
    with fresh_installation(request, request.param, folder) as url:
        yield settings_for(url, folder / "var")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path / "var")


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["mianzheng"].engine.dispose()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Base URL of the app served over real HTTP on 127.0.0.1."""
    with serving(app) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for one test module (Playwright's sync API holds an event loop in the
    main thread while it runs); skipped outside CI when Chromium is not installed."""
    from tests.support.browser import chromium, find_chromium

    if find_chromium() is None:
        if IN_CI:
            pytest.fail("Chromium is not installed (Debian package chromium)")
        pytest.skip("Chromium is not installed")
    with chromium() as instance:
        yield instance


@pytest.fixture(params=ENGINES)
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database that `mianzheng init` has never seen."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'production.db'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = f"production_{uuid.uuid4().hex[:12]}"
    admin = create_engine(cluster.database_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield cluster.database_url(name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
