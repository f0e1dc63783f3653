"""Wiring of e-certificate issuance and verification for the current request: the live
catalog and sources, the trust store and the signed status list. The JSON API and the web
pages both call these, so they always give the same answers. `build_issuance_context` needs
no Flask: the command line (`mianzheng certificate issue`) builds the same context with it."""

from __future__ import annotations

from dataclasses import fields

from api.live_catalog import live_catalog
from api.pull_context import build_pull_context
from api.runtime import Runtime, db, runtime
from api.seal_config import status_list_signing
from catalog.model import Catalog
from exchange.certificates.verdict import CertificateVerdict
from exchange.certificates.verify import verify_certificate
from exchange.issuance import IssuanceContext
from exchange.status_lists import CERTIFICATES, stored_status_list
from seals.registry import trust_store


def build_issuance_context(current: Runtime, catalog: Catalog, content_hash: str) -> IssuanceContext:
    """The issuance context of this installation for the catalog version `content_hash`."""
    pulls = build_pull_context(current, catalog, content_hash)
    return IssuanceContext(**{field.name: getattr(pulls, field.name) for field in fields(pulls)},
                           status_list=status_list_signing(current.settings, current.seal_settings))


def issuance_context() -> IssuanceContext:
    live = live_catalog()
    return build_issuance_context(runtime(), live.catalog, live.version.content_hash)


def current_status_list() -> str | None:
    """The certificates' signed status list as stored (signed by revocations and the jobs; a GET
    never writes)."""
    return stored_status_list(db(), CERTIFICATES.list_id)


def verify_form(form_input: bytes | str, id_number: str | None) -> CertificateVerdict:
    """The verdict on a certificate in any form, against this installation's trust material."""
    live_catalog()  # a published catalog is part of being ready to verify
    trust = trust_store(db())
    return verify_certificate(form_input, trust, current_status_list(), id_number=id_number or None)
