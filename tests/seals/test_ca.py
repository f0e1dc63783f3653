"""The certificate profiles of the city root and the department seals."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from seals import registry
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


@pytest.mark.parametrize("name", ["金华经济技术开发区管理委员会社会事务局", "金华市市场监督管理局金华经济技术开发区分局",
                                  "金华市人力资源和社会保障局金华经济技术开发区分局社会保险服务中心"])
def test_a_department_of_a_long_legal_name_gets_its_seal(fresh_pki: Pki, name: str) -> None:
    """X.509 caps a common name at 64 bytes (21 Chinese characters): a legal name of 18 or more
    still gets a seal, its full name in O, a common name that fits, and signs."""
    seal = registry.issue_seal(fresh_pki.session, fresh_pki.settings, department_code="KFQ", department_name=name,
                               uscc="11330700MB1234567K")
    fresh_pki.session.commit()
    certificate = x509.load_pem_x509_certificate(seal.certificate_pem.encode())
    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == name
    common = str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    assert len(common.encode()) <= 64 and (common.startswith(name) or common.endswith("…"))
    assert common.rstrip("…") in name or common == f"{name}电子印章"
    public_key = certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(fresh_pki.signer("KFQ").sign(b"seal"), b"seal", ec.ECDSA(hashes.SHA256()))
