"""One verification service for a license in any of its forms: the credential (an SD-JWT with
no binding JWT: what the holder downloads, every item disclosed), a presentation (亮证: an SD-JWT
ending in a binding JWT), or a usage copy (加注件: a compact JWS sealed by the exchange).

A selection of items is shown only with what limits it: a presentation's binding (once, within
minutes) or a usage copy's seal (for that use). Stripped of it, the selection is not a license:
a credential that withholds items is INVALID (`items_withheld`).

The license inside each form gets the e-certificates' checks (`judge`); the form adds its own
(`exchange.licenses.verdict`). A presentation's nonce is claimed through `claim_nonce` (the
server's registry, per license and nonce: True the first time, False after); without it
(offline) the nonce check is SKIPPED and the verdict says so. A verifier that gave the holder
its own nonce passes it as `expected_nonce`: a presentation bound to any other is INVALID
(`nonce_mismatch`), online and offline, and its nonce is not claimed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from catalog.model import Catalog
from exchange.certificates.verdict import judge
from exchange.licenses.content import LicenseContent, printed_items
from exchange.licenses.credential import integrity_result, read_license, withholds_items
from exchange.certificates.verdict import with_integrity
from exchange.licenses.presentation import check_binding
from exchange.licenses.sd_jwt import SEPARATOR
from exchange.licenses.usage_copy import read_usage_copy
from exchange.licenses.verdict import (
    FORM_LICENSE,
    FORM_PRESENTATION,
    FORM_UNKNOWN,
    FORM_USAGE_COPY,
    LicenseCheck,
    LicenseCheckResult,
    LicenseCredentialCheckResult,
    LicenseVerdict,
)
from exchange.certificates.verdict import CertificateVerdict, IssuerCompetence, SignedForm
from exchange.certificates.status_list import StatusListSource
from seals.checks import integrity_only
from seals.trust import TrustStore
from seals.verdict import Status

NonceClaim = Callable[[str, str, datetime], bool]
"""Claim (license version identifier, nonce) until the presentation's expiry: True the first time."""


def detect_license_form(text: str) -> str:
    text = text.strip()
    if SEPARATOR in text:
        return FORM_LICENSE if text.endswith(SEPARATOR) else FORM_PRESENTATION
    if text.count(".") == 2:
        return FORM_USAGE_COPY
    return FORM_UNKNOWN


def unread_license(form: str, code: str, trust: TrustStore, status_lists: str | StatusListSource | None, *,
                   exchange_uscc: str, now: datetime, id_number: str | None = None,
                   form_checks: tuple[LicenseCheckResult, ...] = (), **details: str) -> LicenseVerdict:
    """The verdict on a `form` whose license was not read, for the reason `code` (an integrity
    code of `exchange.licenses.credential`, its message written with `details`): no content and no
    items, every other check skipped."""
    return LicenseVerdict(form, judge(form, SignedForm(integrity_only(integrity_result(code, **details)), None), trust,
                                      status_lists, id_number=id_number, now=now, exchange_uscc=exchange_uscc,
                                      results=LicenseCredentialCheckResult), form_checks)


def verify_license(text: str, trust: TrustStore, status_lists: str | StatusListSource | None, *,
                   exchange_uscc: str, now: datetime, catalog: Catalog | None = None,
                   claim_nonce: NonceClaim | None = None, expected_nonce: str | None = None,
                   issuers: IssuerCompetence | None = None, id_number: str | None = None) -> LicenseVerdict:
    """Verify a license credential, presentation or usage copy; never raises for bad input.
    `status_lists`: the one signed license status list the verifier holds, or where it finds the
    list a version names (the installation's stored lists, or `held_status_lists` of an offline
    bundle). `catalog` labels the disclosed items. `expected_nonce`: the verifier's own, which a
    presentation must carry. `issuers`: who issues which license type, where the verifier knows
    the catalogs (see `judge`)."""
    form = detect_license_form(text)

    def judged(signed: SignedForm) -> CertificateVerdict:
        return judge(form, signed, trust, status_lists, id_number=id_number, now=now, exchange_uscc=exchange_uscc,
                     issuers=issuers, results=LicenseCredentialCheckResult)

    if form == FORM_UNKNOWN:
        return unread_license(form, "not_an_sd_jwt", trust, status_lists, exchange_uscc=exchange_uscc, now=now,
                              id_number=id_number)
    if form == FORM_USAGE_COPY:
        usage = read_usage_copy(text, trust, exchange_uscc, now=now)
        if usage.license is None:  # its seal or its form failed (said in `usage.results`): not valid, not unread
            return unread_license(form, "usage_copy_unverified", trust, status_lists, exchange_uscc=exchange_uscc,
                                  now=now, id_number=id_number, form_checks=usage.results)
        read = read_license(usage.license, trust, now=now)
        verdict = judged(read.signed)
        return LicenseVerdict(form, verdict, usage.results, _items(read.signed.content, catalog), usage.usage)
    read = read_license(text, trust, now=now)
    if form == FORM_LICENSE and withholds_items(read):
        read = replace(read, signed=SignedForm(with_integrity(read.signed.signature, integrity_result("items_withheld")),
                                               None))
    verdict = judged(read.signed)
    content = read.signed.content
    items = _items(content, catalog)
    if form == FORM_LICENSE:
        return LicenseVerdict(form, verdict, (), items)
    if content is None or read.sd_jwt is None:
        skipped = tuple(LicenseCheckResult.of(check, Status.SKIPPED, "not_checked_license") for check in
                        (LicenseCheck.PRESENTATION_BINDING, LicenseCheck.PRESENTATION_FRESHNESS, LicenseCheck.NONCE))
        return LicenseVerdict(form, verdict, skipped, items)
    binding = check_binding(read.sd_jwt, content.identifier, trust, exchange_uscc, now=now)
    results = binding.results
    if binding.nonce is None or binding.expires_at is None or any(r.status is not Status.VALID for r in results):
        nonce = LicenseCheckResult.of(LicenseCheck.NONCE, Status.SKIPPED, "not_checked_binding")
    elif verdict.status is not Status.VALID:
        nonce = LicenseCheckResult.of(LicenseCheck.NONCE, Status.SKIPPED, "not_checked_license")
    elif expected_nonce is not None and binding.nonce != expected_nonce:
        nonce = LicenseCheckResult.of(LicenseCheck.NONCE, Status.INVALID, "nonce_mismatch")
    elif claim_nonce is None:
        nonce = LicenseCheckResult.of(LicenseCheck.NONCE, Status.SKIPPED, "nonce_not_checked")
    elif claim_nonce(content.identifier, binding.nonce, binding.expires_at):
        nonce = LicenseCheckResult.of(LicenseCheck.NONCE, Status.VALID, "nonce_first_use")
    else:
        nonce = LicenseCheckResult.of(LicenseCheck.NONCE, Status.INVALID, "nonce_reused")
    return LicenseVerdict(form, verdict, (*results, nonce), items)


def _items(content: LicenseContent | None, catalog: Catalog | None) -> tuple[dict, ...]:
    if content is None:
        return ()
    license_type = catalog.licenses.get(content.license_code) if catalog else None
    return tuple(printed_items(license_type, content.items, mask_values=True))
