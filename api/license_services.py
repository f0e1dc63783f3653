"""Wiring of the license library for the current request or command: the library context, the
stored signed license status list, and verification with the nonce registry. The JSON API, the pages
and the CLI call these, so they give the same answers; and 亮证 (`show_license`), which the API and
the wallet page both make."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from api.live_catalog import live_catalog, published_issuers
from api.runtime import Runtime, db, runtime
from api.seal_config import status_list_signing
from catalog.model import Catalog
from exchange.keyring import Purpose
from exchange.licenses.nonces import claim_nonce, keep_presentation, sweep_nonces
from exchange.licenses.presentation import DEFAULT_MINUTES, Presentation, make_presentation
from exchange.licenses.records import LicenseVersionRecord
from exchange.licenses.service import (IN_FORCE, LICENSES, REPLACED, LicenseConflict, LicenseLibrary, credential_of,
                                       ensure_not_replaced, holder_state)
from exchange.certificates.status_list import StatusListSource
from exchange.status_lists import (StatusListSigning, list_ids, rebuild_status_list, stored_lists_source,
                                   stored_status_list)
from exchange.licenses.verdict import LicenseVerdict
from exchange.licenses.use_service import UseContext
from exchange.licenses.verify import verify_license
from exchange.unit_of_work import UnitOfWork
from seals.registry import held_signer, trust_store
from sqlalchemy.orm import Session

T = TypeVar("T")


def write(name: str, work: Callable[[Session], T]) -> T:
    """`work` in a step of the installation's unit of work, run again when it loses a race
    (`UnitOfWork.retried`); the license services claim serials and status entries by unique
    constraints and lock the license status list."""
    return UnitOfWork(runtime().sessions).retried(name, work)


def build_library(current: Runtime, catalog: Catalog) -> LicenseLibrary:
    return LicenseLibrary(catalog=catalog, seal_settings=current.seal_settings, hash_key=current.subject_hash_key,
                          box=current.keyring.cipher(Purpose.LICENSE_DATA),
                          status_list=status_list_signing(current.settings, current.seal_settings))


def library() -> LicenseLibrary:
    return build_library(runtime(), live_catalog().catalog)


def use_context() -> UseContext:
    current = runtime()
    return UseContext(library=library(), sessions=current.sessions, answers=current.answer_box,
                      exchange_department=current.settings.exchange_department)


def license_status_lists(session: Session) -> StatusListSource:
    """Where a verifier on this installation finds the signed license status list a version
    names, as stored (signed by amendments, revocations and the jobs)."""
    return stored_lists_source(session, LICENSES)


def signed_license_status_lists(session: Session, signing: StatusListSigning) -> list[str]:
    """Every license status list opened so far, signed (a list never signed yet is signed now)."""
    now = datetime.now(timezone.utc)
    return [stored_status_list(session, list_id, LICENSES) or rebuild_status_list(session, LICENSES, list_id, signing, now)
            for list_id in list_ids(session, LICENSES)]


def show_license(lib: LicenseLibrary, version: LicenseVersionRecord, items: list[str], *,
                 minutes: int = DEFAULT_MINUTES, nonce: str | None = None) -> tuple[Presentation, str]:
    """亮证 of a held `version` showing `items` only, signed by the exchange's seal and kept
    (committed) under the reference a verifier's link names; `InvalidInput` for items the
    license does not have; `LicenseConflict` unless the version is the license's current one and in
    force."""
    state = holder_state(db(), lib, version, datetime.now(timezone.utc))
    if state == REPLACED:  # says which license stands for it
        ensure_not_replaced(db(), lib, version, datetime.now(timezone.utc))
    if state != IN_FORCE:
        raise LicenseConflict(f"This version is {state.replace('_', ' ')}: only a license's current version in "
                              "force is shown.")
    session = db()
    signer = held_signer(session, lib.seal_settings, runtime().settings.exchange_department)  # to the commit
    shown = make_presentation(credential_of(lib, version), version.identifier, items, signer,
                              now=datetime.now(timezone.utc), minutes=minutes, nonce=nonce)
    reference = keep_presentation(session, lib.box, shown.text, shown.expires_at)
    session.commit()
    return shown, reference


def verify_license_text(form: str | bytes, id_number: str | None, expected_nonce: str | None = None) -> LicenseVerdict:
    """The verdict on a license credential, presentation or usage copy, or on the PDF (bytes) of
    a license or usage copy; a presentation's nonce is claimed here, so it verifies once (and
    must be `expected_nonce`, the verifier's own, when given), and the nonces and kept
    presentations that expired are deleted on the way."""
    from exchange.licenses.pdf import verify_license_pdf  # the PDF stack (reportlab, pyHanko) loads on first use

    current, session = runtime(), db()
    catalog = live_catalog().catalog
    lists = license_status_lists(session)
    trust = trust_store(session)
    now = datetime.now(timezone.utc)
    sweep_nonces(session, now)  # what expired can no longer be verified anyway
    options: dict[str, Any] = {"exchange_uscc": current.exchange_uscc(catalog), "now": now, "catalog": catalog,
                               "id_number": id_number or None, "issuers": published_issuers(),
                               "claim_nonce": lambda license, nonce, until: claim_nonce(session, license, nonce, until,
                                                                                        now)}
    verdict = (verify_license_pdf(form, trust, lists, **options) if isinstance(form, bytes)
               else verify_license(form, trust, lists, expected_nonce=expected_nonce, **options))
    session.commit()
    return verdict
