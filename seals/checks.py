"""The certificate checks shared by the JWS and the PDF verifier: chain, seal status, validity.

Both verifiers establish the signing certificate and the signing time their own way, then hand
them here, so a seal is judged the same whichever form the signed document takes.

Our PKI has two levels (the root has pathlen 0), so the chain check is: the signing certificate
is directly issued by the configured city root, is not a CA, and may sign (digitalSignature or
nonRepudiation). The seal status comes from the CRL in the trust store: revoked at or before
the signing time is INVALID, revoked later is VALID with a note, except that a seal revoked for
key compromise is trusted before its revocation only when a trusted time-stamp dates the
signature (a claimed time can be back-dated by whoever holds the key).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from catalog.city_time import BEIJING
from seals.ca import certificate_kid, crl_entry_reason
from seals.identity_memo import by_identity
from seals.trust import TrustStore
from seals.verdict import Check, CheckResult, SignerSummary, Status, Verdict

CLOCK_SKEW = timedelta(minutes=5)
MIN_RSA_BITS = 2048
COMPROMISE_REASONS = frozenset({x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise})

SIGNING_TIME_TIMESTAMP = "timestamp"
SIGNING_TIME_CLAIMED = "claimed"
SIGNING_TIME_VERIFICATION = "verification_time"


@by_identity
@lru_cache(maxsize=256)
def summarise_signer(certificate: x509.Certificate) -> SignerSummary:
    """Who signed (a pure function of the certificate: remembered for the few seals in use, by
    identity first, see `seals.identity_memo`)."""
    return SignerSummary(
        subject=certificate.subject.rfc4514_string(),
        organization=_attribute(certificate, NameOID.ORGANIZATION_NAME),
        organization_identifier=_attribute(certificate, NameOID.ORGANIZATION_IDENTIFIER),
        serial_number=format(certificate.serial_number, "x"),
        kid=certificate_kid(certificate),
    )


def certificate_checks(
    certificate: x509.Certificate,
    trust: TrustStore,
    *,
    signing_time: datetime,
    signing_time_source: str,
    now: datetime,
) -> tuple[CheckResult, CheckResult, CheckResult]:
    """The chain, seal_status and validity results for a signature made by `certificate`."""
    chain = check_chain(certificate, trust)
    if chain.status is not Status.VALID:
        return (
            chain,
            CheckResult.of(Check.SEAL_STATUS, Status.SKIPPED, "not_checked_chain"),
            CheckResult.of(Check.VALIDITY, Status.SKIPPED, "not_checked_chain"),
        )
    return (
        chain,
        check_seal_status(certificate, trust, signing_time, signing_time_source, now),
        check_validity(certificate, trust, signing_time, signing_time_source, now),
    )


def steady_while_valid(certificate: x509.Certificate, trust: TrustStore,
                       signing_time: datetime) -> tuple[datetime, datetime | None]:
    """The moments `now` for which `certificate_checks` of a signature by `certificate` at
    `signing_time` gives, once it gave all VALID, the very same results: from `CLOCK_SKEW` before
    the signing time (earlier, the signing time lies in the future) to the CRL's next update while
    the seal is not on it (later, the CRL is stale; None: no end). Nothing else in the checks
    reads the clock, so a verifier may keep a VALID verdict for these moments, and only with the
    same trust store (a new CRL comes in a new one)."""
    crl = trust.crl
    ends = crl.next_update_utc if crl is not None and _crl_entry(crl, certificate) is None else None
    return signing_time - CLOCK_SKEW, ends


def seal_not_found(trust: TrustStore, claimed_signing_time: datetime | None, now: datetime) -> CheckResult:
    """The integrity result of a signature that names, by its kid alone, a seal `trust` does not
    hold, and claims to be made at `claimed_signing_time` (None: it says no time one can read). In
    the service's own trust, which holds every seal the city root certified, that is a forgery. An
    exported copy holds the seals certified up to its export: a signature it dates (more than
    `CLOCK_SKEW`) before then is a forgery too, and so is one dated in the future, which a known
    seal's would be refused for (`signing_time_in_future`); otherwise it may be a seal certified
    since the export, so no verdict is given (ERROR), with a word to export again. An export time
    still to come (a fast clock where it was exported, or an edited file) is not taken."""
    exported_at = trust.exported_at if trust.exported_at is not None and trust.exported_at <= now + CLOCK_SKEW \
        else None
    forged = claimed_signing_time is not None and (
        claimed_signing_time > now + CLOCK_SKEW
        or (exported_at is not None and claimed_signing_time < exported_at - CLOCK_SKEW))
    if trust.exported and not forged:
        return CheckResult.of(Check.INTEGRITY, Status.ERROR, "seal_not_in_trust")
    return CheckResult.of(Check.INTEGRITY, Status.INVALID, "certificate_missing")


def integrity_only(integrity: CheckResult) -> Verdict:
    """The verdict when integrity failed before a signing certificate could be established."""
    skipped = (
        CheckResult.of(check, Status.SKIPPED, "not_checked_no_certificate")
        for check in (Check.CHAIN, Check.SEAL_STATUS, Check.VALIDITY)
    )
    return Verdict((integrity, *skipped))


def key_matches_algorithm(key: CertificatePublicKeyTypes, alg: str) -> bool:
    """Whether `key` is the key type `alg` needs: P-256 for ES256, RSA of 2048 bits or more for PS256."""
    if alg == "ES256":
        return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    return alg == "PS256" and isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS


def check_chain(certificate: x509.Certificate, trust: TrustStore) -> CheckResult:
    return _chain_result(certificate, trust.root)


@by_identity
@lru_cache(maxsize=256)
def _chain_result(certificate: x509.Certificate, root: x509.Certificate) -> CheckResult:
    """`check_chain`: a pure function of the two certificates, so remembered (one signature
    verification per seal and root in use, not per document)."""
    try:
        certificate.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return CheckResult.of(Check.CHAIN, Status.INVALID, "untrusted_root")
    extensions = certificate.extensions
    try:
        constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return CheckResult.of(
            Check.CHAIN, Status.INVALID, "not_a_seal_certificate", detail="basicConstraints/keyUsage missing"
        )
    if constraints.ca:
        return CheckResult.of(Check.CHAIN, Status.INVALID, "not_a_seal_certificate", detail="CA:true")
    if not (usage.digital_signature or usage.content_commitment):
        return CheckResult.of(Check.CHAIN, Status.INVALID, "not_a_seal_certificate", detail="keyUsage")
    return CheckResult.of(Check.CHAIN, Status.VALID, "chain_valid")


def check_seal_status(
    certificate: x509.Certificate,
    trust: TrustStore,
    signing_time: datetime,
    signing_time_source: str,
    now: datetime,
) -> CheckResult:
    crl = trust.crl
    if crl is None:
        return CheckResult.of(Check.SEAL_STATUS, Status.SKIPPED, "crl_unavailable")
    if not trust.crl_is_authentic:
        return CheckResult.of(Check.SEAL_STATUS, Status.ERROR, "crl_invalid")
    entry = _crl_entry(crl, certificate)
    if entry is None:
        next_update = crl.next_update_utc
        if next_update is not None and next_update < now:
            return CheckResult.of(Check.SEAL_STATUS, Status.ERROR, "crl_stale", **_times(next_update=next_update))
        return CheckResult.of(Check.SEAL_STATUS, Status.VALID, "seal_good")
    revoked_at = entry.revocation_date_utc
    reason = crl_entry_reason(entry)
    if revoked_at <= signing_time:
        return CheckResult.of(
            Check.SEAL_STATUS, Status.INVALID, "seal_revoked", **_times(revoked_at=revoked_at), reason=reason.value
        )
    if reason in COMPROMISE_REASONS and signing_time_source != SIGNING_TIME_TIMESTAMP:
        return CheckResult.of(
            Check.SEAL_STATUS, Status.INVALID, "seal_revoked_key_compromise", **_times(revoked_at=revoked_at)
        )
    return CheckResult.of(Check.SEAL_STATUS, Status.VALID, "revoked_after_signing", **_times(revoked_at=revoked_at))


def check_validity(
    certificate: x509.Certificate,
    trust: TrustStore,
    signing_time: datetime,
    signing_time_source: str,
    now: datetime,
) -> CheckResult:
    if signing_time > now + CLOCK_SKEW:
        return CheckResult.of(Check.VALIDITY, Status.INVALID, "signing_time_in_future", **_times(signing_time=signing_time))
    not_before, not_after = _validity_window(certificate, trust.root)
    if not not_before <= signing_time <= not_after:
        return CheckResult.of(
            Check.VALIDITY,
            Status.INVALID,
            "outside_validity",
            **_times(signing_time=signing_time, not_before=not_before, not_after=not_after),
        )
    code = "signing_time_missing" if signing_time_source == SIGNING_TIME_VERIFICATION else "within_validity"
    return CheckResult.of(Check.VALIDITY, Status.VALID, code, **_times(signing_time=signing_time))


@by_identity
def _crl_entry(crl: x509.CertificateRevocationList, certificate: x509.Certificate) -> x509.RevokedCertificate | None:
    """The CRL's entry for the certificate, if it is revoked: a pure function of the two (a new
    CRL is a new object, so a revocation is seen with the trust store that carries it),
    remembered by identity (see `seals.identity_memo`)."""
    return crl.get_revoked_certificate_by_serial_number(certificate.serial_number)


@by_identity
def _validity_window(certificate: x509.Certificate, root: x509.Certificate) -> tuple[datetime, datetime]:
    """When a signature by `certificate` under `root` can have been made: the overlap of their
    validity periods (a pure function of the two, remembered by identity)."""
    return (max(certificate.not_valid_before_utc, root.not_valid_before_utc),
            min(certificate.not_valid_after_utc, root.not_valid_after_utc))


def _attribute(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = certificate.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _times(**moments: datetime) -> dict[str, str]:
    """Each time as UTC ISO 8601 for the English message and as Beijing time (`<name>_zh`) for
    the Chinese one, which sits beside other Beijing times on the verifier's page."""
    texts: dict[str, str] = {}
    for name, moment in moments.items():
        texts[name], texts[f"{name}_zh"] = _time_texts(moment)
    return texts


@lru_cache(maxsize=256)
def _time_texts(moment: datetime) -> tuple[str, str]:
    """`_times` of one moment: a pure function of it, remembered, as the same few times (a status
    list's signing time, a CRL's next update) recur in every verification."""
    utc, local = moment.astimezone(timezone.utc), moment.astimezone(BEIJING)  # isoformat: twice as fast as strftime
    return f"{utc.isoformat(timespec='seconds')[:19]}Z", f"{local.isoformat(' ', 'seconds')[:19]}（北京时间）"
