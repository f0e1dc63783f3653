"""Wiring of e-certificate issuance and verification for the current request: the live
catalog and sources, the trust store and the signed status lists. The JSON API and the web
pages both call these, so they always give the same answers. `build_issuance_context` needs
no Flask: the command line (`mianzheng certificate issue`) builds the same context with it."""

from __future__ import annotations

from dataclasses import fields

from api.live_catalog import live_catalog, published_issuers
from api.pull_context import build_pull_context
from api.runtime import Runtime, db, plain_db, runtime
from api.seal_config import status_list_signing
from catalog.model import Catalog
from exchange.certificates.verdict import CertificateVerdict
from exchange.certificates.verify import named_status_list, read_form, verify_certificate
from exchange.issuance import IssuanceContext
from exchange.keyring import Purpose
from exchange.status_lists import CERTIFICATES, stored_status_list, stored_status_lists, trust_and_lists_source


def build_issuance_context(current: Runtime, catalog: Catalog, content_hash: str) -> IssuanceContext:
    """The issuance context of this installation for the catalog version `content_hash`."""
    pulls = build_pull_context(current, catalog, content_hash)
    return IssuanceContext(**{field.name: getattr(pulls, field.name) for field in fields(pulls)},
                           status_list=status_list_signing(current.settings, current.seal_settings),
                           forms=current.keyring.cipher(Purpose.CERTIFICATE_FORMS))


def issuance_context() -> IssuanceContext:
    live = live_catalog()
    return build_issuance_context(runtime(), live.catalog, live.version.content_hash)


def signed_status_list(list_id: int) -> str | None:
    """Status list `list_id` as stored, a certificates' or a licenses' (signed by revocations,
    amendments and the jobs; a GET never writes); None if there is none or it was never signed."""
    return stored_status_list(db(), list_id)


def certificate_status_lists() -> list[str]:
    """Every signed certificate status list as stored, list 1 first."""
    return stored_status_lists(db(), CERTIFICATES)


def verify_form(form_input: bytes | str, id_number: str | None) -> CertificateVerdict:
    """The verdict on a certificate in any form, against this installation's trust material and
    status lists, and who issues which proof by every catalog it published (a certificate
    carries what it certifies; the catalogs only say whose it was to certify)."""
    read = read_form(form_input)
    connection = plain_db()  # plain reads: no session, no transaction
    trust, status_lists = trust_and_lists_source(connection, CERTIFICATES, lambda: named_status_list(read))
    # the lists come from this installation's own store, which only the exchange's seal signs:
    # no signer to pin (offline verifiers pin it), and one read per verification, not two
    return verify_certificate(form_input, trust, status_lists, id_number=id_number or None, read=read,
                              issuers=published_issuers(connection))
