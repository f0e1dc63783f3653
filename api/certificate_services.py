"""Wiring of e-certificate issuance and verification for the current request: the live
catalog and sources, the trust store and the signed status list. The JSON API and the web
pages both call these, so they always give the same answers. `build_issuance_context` needs
no Flask: the command line (`mianzheng certificate issue`) builds the same context with it."""

from __future__ import annotations

from datetime import datetime, timezone

from api.live_catalog import live_catalog
from api.pull_context import build_pull_context
from api.runtime import Runtime, db, runtime
from api.settings import Settings
from catalog.model import Catalog
from exchange.certificates.verdict import CertificateVerdict
from exchange.certificates.verify import verify_certificate
from exchange.issuance import IssuanceContext, status_list_token
from seals.registry import trust_store

STATUS_LIST_PATH = "/api/v1/status-lists/1"


def build_issuance_context(current: Runtime, catalog: Catalog, content_hash: str) -> IssuanceContext:
    """The issuance context of this installation for the catalog version `content_hash`."""
    pulls = build_pull_context(current, catalog, content_hash)
    return IssuanceContext(
        sessions=pulls.sessions, catalog=pulls.catalog, sources=pulls.sources,
        subject_hash_key=pulls.subject_hash_key, seal_settings=pulls.seal_settings,
        exchange_department=pulls.exchange_department, status_list_url=status_list_url(current.settings),
    )


def issuance_context() -> IssuanceContext:
    live = live_catalog()
    return build_issuance_context(runtime(), live.catalog, live.version.content_hash)


def status_list_url(settings: Settings) -> str:
    return settings.public_url + STATUS_LIST_PATH


def current_status_list() -> str:
    """The signed status list (re-signed and stored when it changed or nears expiry)."""
    current = runtime()
    token = status_list_token(db(), current.seal_settings, current.settings.exchange_department,
                              status_list_url(current.settings), datetime.now(timezone.utc))
    db().commit()
    return token


def verify_form(form_input: bytes | str, id_number: str | None) -> CertificateVerdict:
    """The verdict on a certificate in any form, against this installation's trust material."""
    live_catalog()  # a published catalog is part of being ready to verify
    status_list = current_status_list()
    trust = trust_store(db(), runtime().seal_settings)
    db().commit()
    return verify_certificate(form_input, trust, status_list, id_number=id_number or None)
