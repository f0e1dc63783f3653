"""Set-up of a mianzheng installation, safe to repeat: the data directory, the schema
(Alembic migrations) and the bundled catalog as the first live version."""

from __future__ import annotations

from api.database import standalone_session
from api.migrations import upgrade_database
from api.settings import Settings
from catalog.loading import bundled_catalog_path, load_catalog
from catalog.versions import latest_version, publish


def initialise(settings: Settings) -> list[str]:
    """Bring an installation up to date; returns what was done, one line per step, in Chinese."""
    report: list[str] = []
    settings.var_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    upgrade_database(settings.database_url)
    report.append("数据库结构已是最新。")
    with standalone_session(settings.database_url) as session:
        live = latest_version(session)
        if live is None:
            outcome = publish(
                session, load_catalog(bundled_catalog_path()), published_by="mianzheng init", note="随附目录"
            )
            report.append(f"已发布随附目录，第 {outcome.version.number} 版。")
        else:
            report.append(f"现行目录为第 {live.number} 版，保持不变。")
    return report
