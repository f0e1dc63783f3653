"""`mianzheng init` (run by every `scripts/serve`) skips the set-up steps it has done for the same
inputs, and does again a step a crash cut off half-way: the step's work and its record are one
transaction."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

import demo.setup
from api.database import make_engine
from api.initialise import initialise
from api.settings import Settings
from api.setup_steps import done_version
from catalog.loading import bundled_catalog_path, load_catalog
from demo.data import GENERATOR, DemoDataMissing, _population, demo_dataset, generate_demo_sources
from exchange.applications.recheck_records import Tenancy
from tests.support.cli import cli_environment


def test_a_second_start_skips_the_done_steps_without_building_the_demo(settings: Settings) -> None:
    _population.cache_clear()
    report = initialise(settings)  # the installation is initialised already
    assert "演示公租房在租家庭均已登记，保持不变。" in report and "演示电子证照均已签发，保持不变。" in report
    assert not any("签发电子印章" in line for line in report)
    assert _population.cache_info().currsize == 0  # the demo population was never built


def test_a_second_start_does_not_load_the_migration_tool(settings: Settings) -> None:
    # a fresh interpreter, as `scripts/serve` starts: what it loads is only visible from outside
    script = ("import sys\nfrom api.initialise import initialise\nfrom api.settings import Settings\n"
              "initialise(Settings.from_environment())\n"
              "print('alembic' in sys.modules, file=sys.stderr)")
    env = {**cli_environment(settings.database_url, settings.var_dir), "MIANZHENG_DEV_IDP": "1",
           "MIANZHENG_PUBLIC_URL": settings.public_url}
    loaded = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert loaded.stderr.strip() == "False"


def test_a_step_cut_off_half_way_is_done_again_by_the_next_start(settings: Settings,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(settings.database_url)
    with engine.begin() as connection:  # as left by a start that enrolled only some tenants
        tenancies = connection.scalars(select(Tenancy.id).order_by(Tenancy.id)).all()
        missing = tenancies[::2]
        connection.execute(delete(Tenancy).where(Tenancy.id.in_(missing)))
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM setup_steps WHERE name = 'demo-tenancies'")
    enrol = demo.setup.enrol_demo_tenancies

    def cut_off(*args):  # type: ignore[no-untyped-def]
        enrol(*args)  # the step's rows are written ...
        raise KeyboardInterrupt  # ... and Ctrl+C comes before the step ends

    monkeypatch.setattr(demo.setup, "enrol_demo_tenancies", cut_off)
    with pytest.raises(KeyboardInterrupt):
        initialise(settings)
    monkeypatch.undo()

    def count() -> int:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(Tenancy))

    assert count() == len(tenancies) - len(missing)  # nothing of the cut-off step was kept
    assert done_version(engine, "demo-tenancies") is None
    report = initialise(settings)
    assert f"已登记演示公租房在租家庭 {len(missing)} 户（年度复核用，办理部门 ZJ，柜台授权有效期一年）。" in report
    assert count() == len(tenancies) and done_version(engine, "demo-tenancies") is not None
    assert "演示公租房在租家庭均已登记，保持不变。" in initialise(settings)
    engine.dispose()


def test_demo_data_of_an_earlier_generator_is_made_again_with_its_seed_and_size(settings: Settings,
                                                                                tmp_path: Path) -> None:
    """An installation whose demo data an earlier generator made gets this version's at the next
    start, for the same seed and size: otherwise every demo page would find no demo data."""
    ours = replace(settings, var_dir=tmp_path)
    generate_demo_sources(ours.sources_dir, load_catalog(bundled_catalog_path()), residents=300, seed=7)
    for path in ours.sources_dir.glob("*.db"):
        with closing(sqlite3.connect(path)) as database, database:
            database.execute("UPDATE dataset SET value = 'mianzheng demo data 1' WHERE key = 'generator'")
    with pytest.raises(DemoDataMissing):
        demo_dataset(ours.sources_dir)

    assert "演示数据源由旧版生成器生成，已重新生成" in demo.setup._demo_sources(ours)
    dataset = demo_dataset(ours.sources_dir)
    assert (dataset["generator"], dataset["seed"], dataset["residents"]) == (GENERATOR, "7", "300")
    assert demo.setup._demo_sources(ours) == f"演示数据源目录 {ours.sources_dir} 已存在，保持不变。"


def test_the_installation_is_readable_by_its_own_user_only(tmp_path: Path) -> None:
    """The database and the demo source databases hold names and ID numbers; the secrets, keys.
    A fresh installation makes them its user's alone, also in folders that existed already with
    the usual 0755 (made by hand, or by a copy)."""
    import os
    import stat

    var = tmp_path / "var"
    for folder in (var, var / "secrets", var / "sources"):
        folder.mkdir(mode=0o755)
        os.chmod(folder, 0o755)
    settings = Settings(var_dir=var, database_url=f"sqlite:///{var / 'mianzheng.db'}",
                        public_url="http://127.0.0.1:8000", dev_idp=True)
    initialise(settings)
    folders = [var, var / "secrets", var / "sources", settings.key_dir]
    assert {folder: oct(stat.S_IMODE(folder.stat().st_mode)) for folder in folders} == \
           {folder: "0o700" for folder in folders}
    databases = [var / "mianzheng.db", *(var / "sources").glob("*.db")]
    assert len(databases) > 1
    assert {path: oct(stat.S_IMODE(path.stat().st_mode)) for path in databases} == \
           {path: "0o600" for path in databases}
