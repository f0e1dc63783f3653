"""The certificate profiles of the city root and the department seals."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from seals.ca import DOCUMENT_SIGNING
from tests.seals.conftest import USCC, Pki


def test_root_profile(pki: Pki) -> None:
    root = pki.trust().root
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = root.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign and not usage.value.digital_signature
    root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert (root.not_valid_after_utc - root.not_valid_before_utc).days >= 20 * 365
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "金华市电子印章根证书"


def test_seal_profile(pki: Pki) -> None:
    seal, root = pki.signer().certificate_chain
    assert seal.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == f"NTRCN-{USCC}"
    assert seal.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "金华市自然资源和规划局"
    usage = seal.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    assert not seal.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert set(seal.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == {
        DOCUMENT_SIGNING,
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
    }
    aki = seal.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    points = seal.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == pki.settings.crl_url
    assert root.not_valid_before_utc <= seal.not_valid_before_utc < seal.not_valid_after_utc <= root.not_valid_after_utc
    assert (seal.not_valid_after_utc - seal.not_valid_before_utc).days <= 3 * 365 + 1
    assert 0 < seal.serial_number < 2**159
    seal.verify_directly_issued_by(root)
