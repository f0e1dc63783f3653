"""One verification service for the three forms of an e-certificate.

`verify_certificate` recognises the form (a PDF: bytes starting with `%PDF`; a QR payload:
text starting with `MZ2:` (or `MZ1:`), or the verification address the QR code holds, `…/v#MZ2:…`;
otherwise a compact JWS credential), drops the line breaks a paste or an e-mail adds to the
text forms (all whitespace from a credential, whose alphabet has none, and from a verification
address, which escapes a space as %20, so that a mail client's space before a soft line break
goes too; only line breaks from a bare QR payload, whose Base45 alphabet has the space),
verifies the seal signature of that form and adds the certificate checks (`verdict.judge`), so
the same certificate gets the same checks with the same codes whichever form the verifier holds.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import unquote

from exchange.certificates.credential import claimed_status_list, verify_credential
from exchange.certificates.qr_payload import as_pasted, is_qr_payload, verify_qr
from exchange.certificates.status_list import StatusListSource
from exchange.certificates.verdict import CertificateVerdict, IssuerCompetence, SignedForm, judge
from seals.ca import utc_now
from seals.checks import integrity_only
from seals.trust import TrustStore
from seals.verdict import Check, CheckResult, Status

FORM_PDF, FORM_CREDENTIAL, FORM_QR, FORM_UNKNOWN = "pdf", "credential", "qr", "unknown"


def qr_from_address(text: str) -> str:
    """The QR payload of a scanned verification address (`https://…/v#MZ2:…`, percent-encoded);
    other text as given."""
    address, hash_sign, fragment = text.partition("#")
    return unquote(fragment) if hash_sign and is_qr_payload(fragment) and "://" in address else text


def is_pdf(data: bytes) -> bool:
    """Whether `data` starts as a PDF does (nothing read beyond its header)."""
    return data.lstrip()[:5] == b"%PDF-"


def read_form(form_input: bytes | str) -> tuple[str, str]:
    """The form of the input and, for a text form, the text its verifier reads: without the line
    breaks a paste or an e-mail adds (see the module), and for a QR code's address its payload
    ("" for the other forms)."""
    if isinstance(form_input, bytes):
        if is_pdf(form_input):
            return FORM_PDF, ""
        try:
            form_input = form_input.decode("ascii")
        except UnicodeDecodeError:
            return FORM_UNKNOWN, ""
    text = qr_from_address(form_input.strip())
    if is_qr_payload(text):
        joined = "".join(form_input.strip().splitlines())
        address, hash_sign, _ = joined.partition("#")
        if hash_sign and "://" in address:  # an address holds a space as %20: one before a line break
            joined = "".join(joined.split())  # is the mail client's (format=flowed)
        return FORM_QR, as_pasted(qr_from_address(joined))
    compact = "".join(text.split())
    if compact.count(".") == 2:
        return FORM_CREDENTIAL, qr_from_address(compact)
    return FORM_UNKNOWN, ""


def named_status_list(read: tuple[str, str]) -> str | None:
    """The status list a form named by `read_form` names, read before it is verified (a
    credential's; None for the other forms): only a hint of which list to fetch with the trust
    material."""
    form, text = read
    return claimed_status_list(text) if form == FORM_CREDENTIAL else None


def verify_certificate(
    form_input: bytes | str,
    trust: TrustStore,
    status_lists: str | StatusListSource | None,
    *,
    id_number: str | None = None,
    now: datetime | None = None,
    read: tuple[str, str] | None = None,
    exchange_uscc: str | None = None,
    issuers: IssuerCompetence | None = None,
) -> CertificateVerdict:
    """Verify a certificate in any of its forms; never raises for bad input. `status_lists`: the one
    signed status list the verifier holds, or where it finds the list the certificate names
    (`held_status_lists`, or the installation's stored lists), or None. `read`: what `read_form`
    gave for `form_input`, when the caller read it already. `exchange_uscc`: the exchange whose
    seal alone may sign a status list (every verifier outside the tests gives it). `issuers`: who
    issues which proof, where the verifier knows the catalogs (see `judge`)."""
    now = now or utc_now()
    form, text = read or read_form(form_input)
    if form == FORM_PDF and isinstance(form_input, bytes):
        from exchange.certificates.pdf import verify_certificate_pdf  # the PDF stack (reportlab, pyHanko) loads on first use

        signed = verify_certificate_pdf(form_input, trust, now=now)
    elif form == FORM_UNKNOWN:
        malformed = CheckResult.of(
            Check.INTEGRITY, Status.INVALID, "malformed", detail="not a PDF, a credential (JWS) or a QR payload (MZ2:)"
        )
        signed = SignedForm(integrity_only(malformed), None)
    else:
        verifier = verify_qr if form == FORM_QR else verify_credential
        signed = verifier(text, trust, now=now)
    return judge(form, signed, trust, status_lists, id_number=id_number, now=now, exchange_uscc=exchange_uscc,
                 issuers=issuers)
