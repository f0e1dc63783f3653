"""Wiring of the exchange request use case: the live catalog, the sources for that catalog
(built once per catalog version and process, with the license library in front of the proofs
licenses answer), secrets and seals. `build_pull_context` needs no
Flask (commands use it); `pull_context` is the same for the current request."""

from __future__ import annotations

from api.license_services import build_library
from api.live_catalog import live_catalog
from api.runtime import Runtime, runtime
from catalog.model import Catalog
from exchange.licenses.library_source import library_first
from exchange.pull_service import PullContext


def build_pull_context(current: Runtime, catalog: Catalog, content_hash: str) -> PullContext:
    """The use case's context for the catalog version `content_hash` of this installation."""
    return PullContext(
        sessions=current.sessions,
        catalog=catalog,
        sources=library_first(current.sources_for(content_hash, catalog), current.sessions,
                              build_library(current, catalog)),
        subject_hash_key=current.subject_hash_key,
        answers=current.answer_box,
        seal_settings=current.seal_settings,
        exchange_department=current.settings.exchange_department,
    )


def pull_context() -> PullContext:
    live = live_catalog()
    return build_pull_context(runtime(), live.catalog, live.version.content_hash)
