"""Verify the seal signature of a PDF (PAdES / adbe.pkcs7.detached), against a `TrustStore`.

The first regular signature of the document is verified (an e-certificate carries one).
Integrity uses pyHanko's lower-level building blocks, not its full validator, so the
certificate checks stay ours and identical to the JWS verifier's (`checks`):

- the signed byte range digest must match the CMS messageDigest, and the CMS signature must
  verify with the embedded signing certificate (ECDSA P-256 or RSA-PSS, SHA-256 only);
- pyHanko's difference analysis judges what was appended after the signed revision, under
  `seals.seal_diff_policy.SEAL_DIFF_POLICY`: nothing, or only what PAdES needs later — document security store (DSS)
  updates and document time-stamp signatures (B-LT, B-LTA) — is accepted and reported.
  Anything else is `modified_after_signing`: pyHanko's default policy also lets the Info
  dictionary and the XMP metadata change (a PDF reader then shows a forged title), fill in
  form fields and add annotations; ours lets only their modification dates change. Bytes after the final `%%EOF` are refused
  the same way.

The signing time is the RFC 3161 signature time-stamp when one is present and its TSA chains
to one of the trust store's time-stamp roots, otherwise the time the signer claims (/M or
signingTime), otherwise the verification time. Input is untrusted: any failure to parse it
is reported as `malformed`, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timezone
from io import BytesIO

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import ValidationContext

from seals.ca import utc_now
from seals.checks import (
    SIGNING_TIME_CLAIMED,
    SIGNING_TIME_TIMESTAMP,
    SIGNING_TIME_VERIFICATION,
    certificate_checks,
    integrity_only,
    key_matches_algorithm,
    summarise_signer,
)
from seals.seal_diff_policy import SEAL_DIFF_POLICY
from seals.trust import TrustStore
from seals.verdict import Check, CheckResult, Status, Verdict

JOSE_NAMES = {("ecdsa", "sha256"): "ES256", ("rsassa_pss", "sha256"): "PS256"}
"""The CMS (signature mechanism, digest) pairs accepted, named as in JOSE."""

_TRAILING_WHITESPACE = b" \t\r\n\f\x00"

logging.getLogger("pyhanko.sign.diff_analysis").setLevel(logging.ERROR)
"""pyHanko warns, with a traceback, of each modification its difference analysis refuses. That
refusal is the verdict's `modified_after_signing`: on stderr it would come before the verdict in
`mianzheng verify`, and anyone uploading an edited PDF to a verification page would write a
traceback into the server's log."""


def verify_pdf(pdf: bytes, trust: TrustStore, *, now: datetime | None = None) -> Verdict:
    """Verify the first signature of `pdf` and return the verdict."""
    now = now or utc_now()
    try:
        signatures = PdfFileReader(BytesIO(pdf), strict=False).embedded_regular_signatures
        if not signatures:
            return integrity_only(CheckResult.of(Check.INTEGRITY, Status.INVALID, "not_signed"))
        signature = signatures[0]
        certificate = x509.load_der_x509_certificate(signature.signer_cert.dump())
        integrity = _check_integrity(pdf, signature, certificate)
        signing_time, source = _signing_time(signature, trust, now)
    except Exception as error:  # untrusted input: the PDF and CMS parsers raise many types
        if _bytes_after_signed_revision(pdf):  # a change no parser can follow, not a damaged download
            return integrity_only(CheckResult.of(Check.INTEGRITY, Status.INVALID, "modified_after_signing",
                                                 detail=f"unreadable update after signing ({type(error).__name__})"))
        detail = f"{type(error).__name__}"
        return integrity_only(CheckResult.of(Check.INTEGRITY, Status.INVALID, "malformed", detail=detail))
    return Verdict(
        (
            integrity,
            *certificate_checks(certificate, trust, signing_time=signing_time, signing_time_source=source, now=now),
        ),
        signer=summarise_signer(certificate),
        signing_time=signing_time,
        signing_time_source=source,
    )


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]")


def _bytes_after_signed_revision(pdf: bytes) -> bool:
    """Whether a PDF that cannot be parsed holds more than a signature in it signed: a whole
    revision ending in `%%EOF` exactly where the first signature's `/ByteRange` ends (the smallest
    end any well-formed one names), then more. That is an update added after signing; damage in
    transit does not do it: a download cut short ends before, and line endings or an encoding
    changed on the way move the revision's end away from where its signature says it is."""
    ends = [start + length for offset, first, start, length in (map(int, m.groups()) for m in _BYTE_RANGE.finditer(pdf))
            if offset == 0 and first > 0 and start > first]
    if not ends:
        return False
    signed = min(ends)
    return pdf[:signed].rstrip(_TRAILING_WHITESPACE).endswith(b"%%EOF") and \
        len(pdf.rstrip(_TRAILING_WHITESPACE)) > signed


def _check_integrity(pdf: bytes, signature: EmbeddedPdfSignature, certificate: x509.Certificate) -> CheckResult:
    mechanism = signature.signer_info["signature_algorithm"].signature_algo
    alg = JOSE_NAMES.get((mechanism, signature.md_algorithm))
    if alg is None:
        return CheckResult.of(
            Check.INTEGRITY, Status.INVALID, "alg_not_allowed", alg=f"{mechanism}/{signature.md_algorithm}"
        )
    if not key_matches_algorithm(certificate.public_key(), alg):
        return CheckResult.of(Check.INTEGRITY, Status.INVALID, "key_alg_mismatch", alg=alg)
    signature.compute_integrity_info(diff_policy=SEAL_DIFF_POLICY)
    try:
        intact, valid = generic_cms.validate_sig_integrity(
            signature.signer_info, signature.signer_cert, "data", signature.compute_digest()
        )
    except SignatureValidationError:
        return CheckResult.of(Check.INTEGRITY, Status.INVALID, "signature_mismatch")
    if not intact:
        return CheckResult.of(Check.INTEGRITY, Status.INVALID, "digest_mismatch")
    if not valid:
        return CheckResult.of(Check.INTEGRITY, Status.INVALID, "signature_mismatch")
    if not pdf.rstrip(_TRAILING_WHITESPACE).endswith(b"%%EOF"):
        return CheckResult.of(Check.INTEGRITY, Status.INVALID, "modified_after_signing",
                              detail="data follows the end of the file (%%EOF)")
    diff = signature.diff_result
    if not isinstance(diff, DiffResult):
        return CheckResult.of(Check.INTEGRITY, Status.INVALID, "modified_after_signing", detail=str(diff))
    level = diff.modification_level
    if level is ModificationLevel.NONE:
        return CheckResult.of(Check.INTEGRITY, Status.VALID, "signature_valid")
    if level is ModificationLevel.LTA_UPDATES:
        return CheckResult.of(Check.INTEGRITY, Status.VALID, "signature_valid_benign_update")
    return CheckResult.of(Check.INTEGRITY, Status.INVALID, "modified_after_signing", detail=level.name.lower())


def _signing_time(signature: EmbeddedPdfSignature, trust: TrustStore, now: datetime) -> tuple[datetime, str]:
    if trust.timestamp_roots:
        context = ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(root.public_bytes(Encoding.DER)) for root in trust.timestamp_roots],
            allow_fetching=False,
        )
        try:
            timing = asyncio.run(
                generic_cms.collect_timing_info(signature.signer_info, context, raw_digest=signature.compute_digest)
            )
        except ValueError:  # a broken token (SignatureValidationError is a ValueError): use the claim
            timing = {}
        stamp = timing.get("timestamp_validity")
        if stamp is not None and stamp.intact and stamp.valid and stamp.trusted:
            return _utc(stamp.timestamp), SIGNING_TIME_TIMESTAMP
    claimed = signature.self_reported_timestamp
    if claimed is not None:
        return _utc(claimed), SIGNING_TIME_CLAIMED
    return now, SIGNING_TIME_VERIFICATION


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
