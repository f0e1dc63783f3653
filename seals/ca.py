"""Certificate profiles of the city PKI: the root CA, department seal certificates and the CRL.

Pure functions over `cryptography` objects (and the PEM bytes of an imported root); no files,
no database. The profile (extensions,
validity, identifiers) is documented in docs/seals.md.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from core.base64url import b64url_encode
from seals.identity_memo import by_identity
from seals.errors import CaMaterialFault, InvalidCaMaterial

ROOT_VALIDITY = timedelta(days=20 * 365)
BACKDATE = timedelta(minutes=5)
"""Certificates start a little in the past so that verifiers with a slightly slow clock accept them."""

DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
"""id-kp-documentSigning (RFC 9336)."""

SEAL_EXTENDED_KEY_USAGES = (DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION)
"""documentSigning says what a seal is for; emailProtection is what NSS (poppler's pdfsig) and
Adobe check for a PDF signer under the S/MIME trust bit, so it is kept for interoperability."""

USCC_PREFIX = "NTRCN-"
"""organizationIdentifier semantics of ETSI EN 319 412-1: NTR (national trade register), CN."""


@dataclass(frozen=True)
class CityCa:
    """The root certificate together with its private key (held only while signing)."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)


class RevocationReason(str, Enum):
    """The CRL reason codes a seal officer may give (RFC 5280 CRLReason)."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key_compromise"
    AFFILIATION_CHANGED = "affiliation_changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation_of_operation"

    @property
    def x509_flag(self) -> x509.ReasonFlags:
        return {
            RevocationReason.UNSPECIFIED: x509.ReasonFlags.unspecified,
            RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
            RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
            RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
            RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
        }[self]

    @property
    def label_zh(self) -> str:
        return {
            RevocationReason.UNSPECIFIED: "未说明原因",
            RevocationReason.KEY_COMPROMISE: "密钥泄露",
            RevocationReason.AFFILIATION_CHANGED: "所属单位变更",
            RevocationReason.SUPERSEDED: "已被新印章取代",
            RevocationReason.CESSATION_OF_OPERATION: "停止使用",
        }[self]

    @classmethod
    def of_entry(cls, entry: x509.RevokedCertificate) -> RevocationReason:
        """The reason a CRL entry gives (`unspecified` for one a seal officer cannot give)."""
        return cls.of_flag(crl_entry_reason(entry))

    @classmethod
    def of_flag(cls, flag: x509.ReasonFlags) -> RevocationReason:
        """The reason a CRL entry's reason code gives (`unspecified` for one a seal officer cannot give)."""
        return next((reason for reason in cls if reason.x509_flag is flag), cls.UNSPECIFIED)


def crl_entry_reason(entry: x509.RevokedCertificate) -> x509.ReasonFlags:
    """A CRL entry's reason code; `unspecified` when it gives none."""
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return x509.ReasonFlags.unspecified


@dataclass(frozen=True)
class RevokedEntry:
    """One line of the CRL."""

    serial_number: int
    revoked_at: datetime
    reason: RevocationReason


def utc_now() -> datetime:
    """The current time, timezone-aware UTC, without microseconds (X.509 has seconds)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def crl_urls(certificate: x509.Certificate) -> list[str]:
    """The CRL distribution point URLs a certificate names (none without the extension)."""
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [name.value for point in points for name in point.full_name or ()
            if isinstance(name, x509.UniformResourceIdentifier)]


@by_identity
def certificate_kid(certificate: x509.Certificate) -> str:
    """The key id of a certificate: base64url (no padding) of the SHA-256 of its DER.

    This is the RFC 7517 `x5t#S256` thumbprint, so a verifier can recompute it from `x5c[0]`.
    A pure function of the certificate: remembered for the few seals in use (by identity, see
    `seals.identity_memo`), as every JWS verification asks for it.
    """
    return b64url_encode(certificate.fingerprint(hashes.SHA256()))


@by_identity
def x5c_entry(certificate: x509.Certificate) -> str:
    """Standard base64 (not base64url) of the DER, as an `x5c` member requires (RFC 7515 §4.1.6).
    Remembered by identity (`seals.identity_memo`): every seal signature puts its chain in a header."""
    return base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii")


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 key."""
    return ec.generate_private_key(ec.SECP256R1())


def create_root(
    common_name: str = "金华市电子印章根证书",
    organization: str = "金华市数据资源局",
    *,
    now: datetime | None = None,
) -> CityCa:
    """Create a self-signed city root CA (ECDSA P-256, 20 years, pathlen 0)."""
    now = now or utc_now()
    key = generate_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CityCa(certificate, key)


def load_ca_material(
    certificate_pem: bytes, key_pem: bytes, key_passphrase: bytes | None = None, *, now: datetime | None = None
) -> CityCa:
    """Read an existing CA certificate and its key (PEM, the key possibly encrypted) and accept
    them as the city root (`check_ca_material`), or raise `InvalidCaMaterial` saying why."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError:
        raise InvalidCaMaterial("the CA certificate is not a PEM certificate",
                                CaMaterialFault.UNREADABLE_CERTIFICATE) from None
    try:
        private_key = serialization.load_pem_private_key(key_pem, password=key_passphrase)
    except (ValueError, TypeError):
        # the library's message is dropped on purpose: no detail about the key file's content
        raise InvalidCaMaterial("the CA key cannot be read (wrong format, or wrong or missing passphrase)",
                                CaMaterialFault.UNREADABLE_KEY) from None
    return check_ca_material(certificate, private_key, now=now)


def check_ca_material(certificate: x509.Certificate, private_key: object, *, now: datetime | None = None) -> CityCa:
    """Accept an existing CA certificate and key, or raise `InvalidCaMaterial` saying why: the
    certificate first (a self-signed CA that may sign certificates and CRLs, valid now), then its
    key. Self-signed, because verifiers anchor trust in it: an intermediate would leave out the
    root above it, which the trust material does not carry."""
    now = now or utc_now()
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise InvalidCaMaterial("the certificate has no basicConstraints: not a CA certificate",
                                CaMaterialFault.NOT_A_CA) from None
    if not constraints.ca:
        raise InvalidCaMaterial("the certificate is not a CA certificate (basicConstraints CA:false)",
                                CaMaterialFault.NOT_A_CA)
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise InvalidCaMaterial("the CA certificate has no keyUsage", CaMaterialFault.CANNOT_SIGN) from None
    if not (usage.key_cert_sign and usage.crl_sign):
        raise InvalidCaMaterial("the CA certificate may not sign certificates and CRLs", CaMaterialFault.CANNOT_SIGN)
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        raise InvalidCaMaterial("the CA certificate is not self-signed: not a root", CaMaterialFault.NOT_SELF_SIGNED) from None
    try:  # seal certificates and CRLs name it as their authority key identifier
        certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        raise InvalidCaMaterial("the CA certificate has no subjectKeyIdentifier (RFC 5280 requires one)",
                                CaMaterialFault.NO_KEY_IDENTIFIER) from None
    if now < certificate.not_valid_before_utc:
        raise InvalidCaMaterial("the CA certificate is not valid yet", CaMaterialFault.NOT_YET_VALID)
    if now >= certificate.not_valid_after_utc:
        raise InvalidCaMaterial("the CA certificate has expired", CaMaterialFault.EXPIRED)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(private_key.curve, ec.SECP256R1):
        raise InvalidCaMaterial("the CA key must be an ECDSA P-256 key", CaMaterialFault.NOT_P256)
    if private_key.public_key() != certificate.public_key():
        raise InvalidCaMaterial("the private key does not belong to the CA certificate", CaMaterialFault.KEY_MISMATCH)
    return CityCa(certificate, private_key)


def issue_seal_certificate(
    ca: CityCa,
    public_key: CertificatePublicKeyTypes,
    *,
    department_name: str,
    uscc: str,
    crl_url: str,
    validity: timedelta,
    now: datetime | None = None,
) -> x509.Certificate:
    """Issue a department seal certificate for `public_key`, valid inside the root's validity.

    Subject: C=CN, O=<department>, CN=<department>电子印章 (`seal_common_name`),
    organizationIdentifier=NTRCN-<USCC>.
    """
    now = now or utc_now()
    not_after = min(now + validity, ca.certificate.not_valid_after_utc)
    if not_after <= now:
        raise InvalidCaMaterial("the CA certificate expires before the seal could be valid", CaMaterialFault.EXPIRED)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, department_name),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, USCC_PREFIX + uscc),
            x509.NameAttribute(NameOID.COMMON_NAME, seal_common_name(department_name)),
        ]
    )
    issuer_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    distribution_point = x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(crl_url)],
        relative_name=None,
        reasons=None,
        crl_issuer=None,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(max(now - BACKDATE, ca.certificate.not_valid_before_utc))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(SEAL_EXTENDED_KEY_USAGES)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
        .add_extension(x509.CRLDistributionPoints([distribution_point]), critical=False)
        .sign(ca.private_key, hashes.SHA256())
    )


COMMON_NAME_BYTES = 64
"""X.509's upper bound of a common name (RFC 5280 ub-common-name), in UTF-8 bytes as the
`cryptography` library counts it: 21 Chinese characters."""


def seal_common_name(department_name: str) -> str:
    """The seal certificate's common name: `<department>电子印章`; for a legal name too long for
    that, the name alone, or its beginning and `…` (the full name is always the O attribute)."""
    for name in (f"{department_name}电子印章", department_name):
        if len(name.encode()) <= COMMON_NAME_BYTES:
            return name
    cut = department_name
    while len(f"{cut}…".encode()) > COMMON_NAME_BYTES:
        cut = cut[:-1]
    return f"{cut}…"


def build_crl(
    ca: CityCa,
    revoked: list[RevokedEntry],
    *,
    crl_number: int,
    validity: timedelta,
    now: datetime | None = None,
) -> x509.CertificateRevocationList:
    """A CRL signed by the CA listing `revoked` with revocation time and reason code."""
    now = now or utc_now()
    issuer_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now)
        .next_update(now + validity)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial_number)
            .revocation_date(entry.revoked_at)
            .add_extension(x509.CRLReason(entry.reason.x509_flag), critical=False)
            .build()
        )
    return builder.sign(ca.private_key, hashes.SHA256())


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )
