"""Two runs that both find no city root: only one root is stored, the other is told one exists."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from api.database import make_engine
from api.seal_config import seal_settings
from api.settings import Settings
from seals import registry
from seals.errors import CaAlreadyExists


def test_a_root_stored_meanwhile_turns_the_second_run_away(database_url: str, settings: Settings) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite admits one writer: a run that read before another's commit cannot write at all")
    first_engine, second_engine = make_engine(database_url), make_engine(database_url)
    try:
        with Session(first_engine) as wipe, wipe.begin():
            wipe.execute(delete(registry.SealCa))  # an installation before its root
        first, second = Session(first_engine), Session(second_engine)
        registry.init_ca(first, seal_settings(settings))

        def first_commits_between_check_and_insert(_conn, _cursor, statement: str, *_args) -> None:
            if statement.startswith("INSERT INTO seal_ca"):
                first.commit()  # the second run has already found no root

        event.listen(second_engine, "before_cursor_execute", first_commits_between_check_and_insert)
        with pytest.raises(CaAlreadyExists):
            registry.init_ca(second, seal_settings(settings))
        second.commit()  # what the second run did before is kept; no root of its own
        with Session(first_engine) as check:
            assert check.scalar(select(func.count()).select_from(registry.SealCa)) == 1
        first.close()
        second.close()
    finally:
        first_engine.dispose()
        second_engine.dispose()
