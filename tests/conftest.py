"""Fixtures of the whole suite.

Database-backed tests take the `database_url` fixture and so run twice: on SQLite and on a
real PostgreSQL server started for the session. Each test gets a fresh installation copied
from a template initialised once per engine exactly as `mianzheng init` does it: the
database, and the var/ folder beside it (`tmp_path / "var"`: keys, secrets, source data).
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from api.app import create_app
from api.initialise import initialise
from api.settings import Settings
from tests.support.live_server import serving
from tests.support.postgres import PostgresCluster, find_postgres_bin

IN_CI = os.environ.get("CI") == "true"
_database_numbers = itertools.count()


def settings_for(database_url: str, var_dir: Path) -> Settings:
    """Settings of a test installation: like the embedded default, with the dev identity provider."""
    return Settings(var_dir=var_dir, database_url=database_url, public_url="http://127.0.0.1:8000", dev_idp=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        message = "PostgreSQL is not installed (Debian package postgresql)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    cluster = PostgresCluster.in_temporary_folder(bin_dir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding an initialised `template.db` and its `var/`."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    initialise(settings_for(f"sqlite:///{folder / 'template.db'}", folder / "var"))
    return folder


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The var/ folder of the initialised PostgreSQL database `template_mz`."""
    _admin(postgres_cluster, 'CREATE DATABASE "template_mz"')
    var_dir = tmp_path_factory.mktemp("pg-template") / "var"
    initialise(settings_for(postgres_cluster.database_url("template_mz"), var_dir))
    return var_dir


def _admin(cluster: PostgresCluster, statement: str) -> None:
    engine = create_engine(cluster.database_url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, initialised database on each engine, with its var/ at `tmp_path / "var"`."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copytree(template / "var", tmp_path / "var")
        path = tmp_path / "mianzheng.db"
        shutil.copyfile(template / "template.db", path)
        yield f"sqlite:///{path}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    shutil.copytree(request.getfixturevalue("postgres_template"), tmp_path / "var")
    name = f"test_{next(_database_numbers)}"
    _admin(cluster, f'CREATE DATABASE "{name}" TEMPLATE "template_mz"')
    yield cluster.database_url(name)
    _admin(cluster, f'DROP DATABASE "{name}" WITH (FORCE)')


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
