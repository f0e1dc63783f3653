"""Wiring of the exchange request use case for the current request: the live catalog, the
sources for that catalog (built once per catalog version and process), secrets and seals."""

from __future__ import annotations

from api.live_catalog import live_catalog
from api.runtime import runtime
from exchange.pull_service import PullContext
from exchange.sources.directory import build_sources


def pull_context() -> PullContext:
    live = live_catalog()
    current = runtime()
    settings = current.settings
    sources = current.sources.get(live.version.content_hash)
    if sources is None:
        sources = build_sources(live.catalog, settings.sources_dir, settings.sources_file)
        current.sources[live.version.content_hash] = sources
    return PullContext(
        sessions=current.sessions,
        catalog=live.catalog,
        sources=sources,
        subject_hash_key=current.subject_hash_key,
        answers=current.answer_box,
        seal_settings=current.seal_settings,
        exchange_department=settings.exchange_department,
    )
