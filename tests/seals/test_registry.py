"""The seal registry: CA lifecycle, issue, rotate, revoke, and what revocation means for signatures."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from seals import ca, registry
from seals.ca import RevocationReason
from seals.errors import CaAlreadyExists, CaMaterialFault, CaMissing, InvalidCaMaterial, SealAlreadyActive, SealNotFound, SealRevoked
from seals.jws import sign_jws
from seals.pades import sign_pdf
from seals.registry import SealStatus
from seals.verdict import Check, Status
from seals.verify_jws import verify_jws
from seals.verify_pdf import verify_pdf
from tests.seals.conftest import DEPARTMENT, Pki, make_pdf


def test_second_ca_and_second_active_seal_are_refused(fresh_pki: Pki) -> None:
    with pytest.raises(CaAlreadyExists):
        registry.init_ca(fresh_pki.session, fresh_pki.settings)
    with pytest.raises(SealAlreadyActive):
        registry.issue_seal(
            fresh_pki.session, fresh_pki.settings, department_code=DEPARTMENT, department_name="x", uscc="y"
        )


def test_an_issue_that_loses_the_race_for_the_active_seal_writes_no_key(fresh_pki: Pki,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two seal officers issue at once: both find no active seal, one commits first. The other is
    told the department has one (not that the database is down), and leaves no key behind."""
    registry.revoke_seal(fresh_pki.session, fresh_pki.settings, DEPARTMENT, RevocationReason.SUPERSEDED)
    registry.issue_seal(fresh_pki.session, fresh_pki.settings, department_code=DEPARTMENT, department_name="x",
                        uscc="y")  # the officer who came first
    fresh_pki.session.commit()
    keys_before = sorted(fresh_pki.settings.key_dir.iterdir())
    monkeypatch.setattr(registry, "_find_active", lambda session, code: None)  # as read before that commit
    with pytest.raises(SealAlreadyActive):
        registry.issue_seal(fresh_pki.session, fresh_pki.settings, department_code=DEPARTMENT, department_name="x",
                            uscc="y")
    fresh_pki.session.rollback()
    assert sorted(fresh_pki.settings.key_dir.iterdir()) == keys_before


def test_a_root_without_a_subject_key_identifier_is_refused() -> None:
    """Seal certificates and CRLs point at the root by its key identifier (RFC 5280 requires one
    in a CA certificate): a root without is refused before anything is written."""
    from datetime import datetime, timezone

    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = ca.generate_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "无标识根证书")])
    now = datetime.now(timezone.utc)
    root = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    with pytest.raises(InvalidCaMaterial) as refused:
        ca.check_ca_material(root, key)
    assert refused.value.fault is CaMaterialFault.NO_KEY_IDENTIFIER


def test_no_ca(fresh_pki: Pki) -> None:
    fresh_pki.session.query(registry.SealCa).delete()
    with pytest.raises(CaMissing):
        registry.issue_seal(
            fresh_pki.session, fresh_pki.settings, department_code="OTHER", department_name="金华市民政局", uscc="1"
        )


def test_rows_hold_no_key_material(fresh_pki: Pki) -> None:
    for row in [*fresh_pki.session.query(registry.SealCa), *fresh_pki.session.query(registry.Seal)]:
        assert "PRIVATE KEY" not in row.certificate_pem
        assert row.key_ref.endswith(".key") and "/" not in row.key_ref


def test_rotation_keeps_old_signatures_valid(fresh_pki: Pki) -> None:
    old_signer = fresh_pki.signer()
    old_token = sign_jws({"n": 1}, old_signer)
    new_seal = registry.rotate_seal(fresh_pki.session, fresh_pki.settings, DEPARTMENT)
    new_signer = fresh_pki.signer()
    assert new_signer.key_id == new_seal.kid != old_signer.key_id
    statuses = [seal.status for seal in registry.list_seals(fresh_pki.session, DEPARTMENT)]
    assert statuses == [SealStatus.ACTIVE, SealStatus.SUPERSEDED]
    trust = fresh_pki.trust()
    assert verify_jws(old_token, trust).verdict.status is Status.VALID
    assert verify_jws(sign_jws({"n": 2}, new_signer), trust).verdict.status is Status.VALID
    assert {key["kid"] for key in trust.jwks()["keys"]} == {old_signer.key_id, new_signer.key_id}


def test_revocation_splits_signatures_at_the_revocation_time(fresh_pki: Pki) -> None:
    signer = fresh_pki.signer()
    now = int(time.time())
    before = sign_jws({"iat": now - 60}, signer)
    pdf_before = sign_pdf(make_pdf(), signer)
    registry.revoke_seal(
        fresh_pki.session,
        fresh_pki.settings,
        DEPARTMENT,
        RevocationReason.CESSATION_OF_OPERATION,
        now=ca.utc_now() + timedelta(seconds=1),
    )
    after = sign_jws({"iat": now + 60}, signer)
    trust = fresh_pki.trust()

    early = verify_jws(before, trust).verdict
    assert early.status is Status.VALID, early.to_dict()
    assert early.result(Check.SEAL_STATUS).code == "revoked_after_signing"
    assert verify_pdf(pdf_before, trust).status is Status.VALID

    late = verify_jws(after, trust).verdict
    assert late.status is Status.INVALID
    assert late.result(Check.SEAL_STATUS).code == "seal_revoked"

    with pytest.raises(SealNotFound):
        fresh_pki.signer()
    entry = trust.crl.get_revoked_certificate_by_serial_number(signer.certificate_chain[0].serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.cessation_of_operation
    )


def test_key_compromise_needs_a_trusted_time_stamp(fresh_pki: Pki) -> None:
    signer = fresh_pki.signer()
    backdated = sign_jws({"iat": int(time.time()) - 60}, signer)
    registry.revoke_seal(fresh_pki.session, fresh_pki.settings, DEPARTMENT, RevocationReason.KEY_COMPROMISE)
    verdict = verify_jws(backdated, fresh_pki.trust()).verdict
    assert verdict.result(Check.SEAL_STATUS).code == "seal_revoked_key_compromise"
    assert verdict.status is Status.INVALID


def test_revoke_by_serial_and_twice(fresh_pki: Pki) -> None:
    old = registry.active_seal(fresh_pki.session, DEPARTMENT)
    registry.rotate_seal(fresh_pki.session, fresh_pki.settings, DEPARTMENT)
    revoked = registry.revoke_seal(
        fresh_pki.session, fresh_pki.settings, DEPARTMENT, RevocationReason.KEY_COMPROMISE, serial_hex=old.serial_hex
    )
    assert revoked.status is SealStatus.REVOKED
    with pytest.raises(SealRevoked):
        registry.revoke_seal(
            fresh_pki.session,
            fresh_pki.settings,
            DEPARTMENT,
            RevocationReason.KEY_COMPROMISE,
            serial_hex=old.serial_hex,
        )
    with pytest.raises(SealNotFound):
        registry.revoke_seal(
            fresh_pki.session, fresh_pki.settings, DEPARTMENT, RevocationReason.UNSPECIFIED, serial_hex="abc"
        )
    assert registry.active_seal(fresh_pki.session, DEPARTMENT).status is SealStatus.ACTIVE


def test_expired_seals_are_reported_without_writing(fresh_pki: Pki) -> None:
    later = ca.utc_now() + timedelta(days=4 * 365)
    seals = registry.list_seals(fresh_pki.session)
    assert [seal.status_at(later) for seal in seals] == [SealStatus.EXPIRED]
    assert not fresh_pki.session.dirty and [seal.status for seal in seals] == [SealStatus.ACTIVE]
    with pytest.raises(SealNotFound):
        registry.active_seal(fresh_pki.session, DEPARTMENT, now=later)


def test_crl_is_resigned_only_when_close_to_next_update(fresh_pki: Pki) -> None:
    first = registry.current_crl(fresh_pki.session)
    assert first is not None
    assert not registry.refresh_crl(fresh_pki.session, fresh_pki.settings)
    again = registry.current_crl(fresh_pki.session)
    assert again is not None and again.public_bytes(serialization.Encoding.DER) == first.public_bytes(serialization.Encoding.DER)
    later = ca.utc_now() + timedelta(days=6, hours=12)
    assert registry.refresh_crl(fresh_pki.session, fresh_pki.settings, now=later)
    renewed = registry.current_crl(fresh_pki.session)
    assert renewed is not None and renewed.next_update_utc > first.next_update_utc
    number = renewed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number == first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1


def test_crl_problems_are_reported(fresh_pki: Pki) -> None:
    token = sign_jws({"n": 1}, fresh_pki.signer())
    trust = fresh_pki.trust()
    without_crl = verify_jws(token, replace(trust, crl=None)).verdict
    assert without_crl.result(Check.SEAL_STATUS).status is Status.SKIPPED
    assert without_crl.status is Status.VALID
    foreign = ca.build_crl(ca.create_root("别的根", "别的局"), [], crl_number=1, validity=timedelta(days=1))
    forged = verify_jws(token, replace(trust, crl=foreign)).verdict
    assert forged.result(Check.SEAL_STATUS).code == "crl_invalid"
    assert forged.status is Status.ERROR
    stale = verify_jws(token, trust, now=ca.utc_now() + timedelta(days=30)).verdict
    assert stale.result(Check.SEAL_STATUS).code == "crl_stale"


def test_import_ca(tmp_path, fresh_pki: Pki) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from core.orm import Base

    existing = ca.create_root("外部根证书", "外部机构")
    cert_pem = existing.certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = existing.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"old")
    )
    settings = replace(fresh_pki.settings, key_dir=tmp_path / "imported-keys")
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        with pytest.raises(InvalidCaMaterial) as unreadable:
            ca.load_ca_material(cert_pem, key_pem, b"wrong")
        assert unreadable.value.fault is CaMaterialFault.UNREADABLE_KEY
        mismatched = ca.generate_key().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with pytest.raises(InvalidCaMaterial, match="does not belong"):
            ca.load_ca_material(cert_pem, mismatched)
        leaf_pem = fresh_pki.signer().certificate_chain[0].public_bytes(serialization.Encoding.PEM)
        with pytest.raises(InvalidCaMaterial) as not_a_ca:
            ca.load_ca_material(leaf_pem, key_pem, b"old")
        assert not_a_ca.value.fault is CaMaterialFault.NOT_A_CA
        row = registry.import_ca(session, settings, ca.load_ca_material(cert_pem, key_pem, b"old"))
        assert row.serial_hex == format(existing.certificate.serial_number, "x")
        seal = registry.issue_seal(
            session, settings, department_code="D", department_name="金华市民政局", uscc="11330700002481234B"
        )
        assert seal.certificate.issuer == existing.certificate.subject
    engine.dispose()
