"""The sealed PDFs the exchange hands out: a license version's (signed by the issuing
department's seal, for the issuer any version, for the holder only one neither revoked nor
superseded: printed, a page sealed today looks in force whatever its status, and its QR code
names none) and a usage copy's (加注件, signed by the exchange's seal, only for a usage copy that
verifies as the exchange's own and unexpired).

A PDF is made when asked for, from the version's stored credential or from the usage copy the
using department received: nothing more is stored, and each PDF says what its attachment says.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from exchange.certificates.status_list import StatusListSource
from exchange.errors import ExchangeError
from exchange.licenses.records import LicenseState, LicenseVersionRecord
from exchange.licenses.service import (LicenseConflict, LicenseLibrary, credential_of, ensure_not_replaced,
                                       license_of)
from exchange.licenses.verdict import FORM_USAGE_COPY
from exchange.licenses.verify import verify_license
from seals.registry import held_signer, trust_store


class NotAUsageCopy(ExchangeError):
    """The text is not a valid, unexpired usage copy of this exchange for the asking department."""


def license_pdf(session: Session, library: LicenseLibrary, version: LicenseVersionRecord) -> bytes:
    """The sealed PDF of `version` (any version: a superseded or revoked one verifies as such)."""
    from exchange.licenses.pdf import issue_license_pdf  # the PDF stack (reportlab, pyHanko) loads on first use

    record = license_of(session, version)
    signer = held_signer(session, library.seal_settings, record.issuer_department)  # see `exchange.held_seals`
    return issue_license_pdf(credential_of(library, version), library.catalog.licenses.get(record.license_type),
                             signer)


def holder_license_pdf(session: Session, library: LicenseLibrary, version: LicenseVersionRecord) -> bytes:
    """`license_pdf` for the version's holder: `LicenseConflict` once it is revoked or superseded,
    `LicenseReplaced` once a later license states what it stated."""
    if version.status != LicenseState.VALID:
        raise LicenseConflict(f"license version {version.identifier} is {version.status}: "
                              "its holder gets no sealed page of it")
    ensure_not_replaced(session, library, version, library.clock())
    return license_pdf(session, library, version)


def usage_copy_pdf(session: Session, library: LicenseLibrary, usage_copy: str, department: str,
                   exchange_department: str, status_lists: str | StatusListSource | None, now: datetime) -> bytes:
    """The sealed PDF of a usage copy the exchange made for `department`; `NotAUsageCopy` unless
    it verifies (the exchange's seal, within its window, the license not revoked)."""
    exchange = library.catalog.departments[exchange_department]
    verdict = verify_license(usage_copy, trust_store(session), status_lists, exchange_uscc=exchange.uscc,
                             now=now)
    if verdict.form != FORM_USAGE_COPY or not verdict.valid or verdict.usage is None:
        raise NotAUsageCopy("not a valid usage copy of this exchange")
    if verdict.usage["department"] != department:
        raise NotAUsageCopy(f"this usage copy is for {verdict.usage['department']}, not {department}")
    content = verdict.license.content or {}
    license_type = library.catalog.licenses.get(content.get("license", {}).get("code", ""))
    from exchange.licenses.pdf import issue_usage_copy_pdf  # the PDF stack (reportlab, pyHanko) loads on first use

    signer = held_signer(session, library.seal_settings, exchange_department)
    return issue_usage_copy_pdf(usage_copy.strip(), license_type, signer, exchange.legal_name_zh)
