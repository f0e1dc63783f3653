"""Wiring of matter handling: the handling context for the live catalog (also built by the
command line and the background jobs, which have no request), and resolving in the background."""

from __future__ import annotations

import logging
import threading
from functools import partial

from api.auth import verify_citizen_assertion
from api.live_catalog import live_catalog
from api.pull_context import build_pull_context
from api.runtime import Runtime, runtime
from catalog.model import Catalog
from exchange.applications.context import HandlingContext
from exchange.applications.resolution import Filing, resolve_application

log = logging.getLogger(__name__)


def build_handling_context(current: Runtime, catalog: Catalog, content_hash: str) -> HandlingContext:
    """The matter handlers' context of this installation for the catalog version `content_hash`."""
    return HandlingContext(pull=build_pull_context(current, catalog, content_hash),
                           verify_identity=partial(verify_citizen_assertion, current.identity))


def handling_context() -> HandlingContext:
    live = live_catalog()
    return build_handling_context(runtime(), live.catalog, live.version.content_hash)


def resolve_in_background(ctx: HandlingContext, application_id: str, filing: Filing | None = None) -> None:
    """Resolve on a thread of its own (with what the filing handed over, if it was just filed);
    if the process dies first, the next sweep takes over."""
    def run() -> None:
        try:
            resolve_application(ctx, application_id, filing)
        except Exception:  # the sweep retries; the error must not vanish silently
            log.exception("resolving application %s failed; the next sweep retries it", application_id)

    threading.Thread(target=run, name=f"resolve-{application_id[:8]}", daemon=True).start()
