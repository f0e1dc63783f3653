"""Seal officers at the same moment: the CRL published last lists every revoked seal, and a
command on a seal that another is revoking changes nothing of that revocation."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from cryptography import x509
from sqlalchemy import select

from api.database import standalone_session
from api.seal_config import seal_settings
from api.settings import Settings
from seals import ca
from seals.ca import RevocationReason
from seals.errors import SealError
from seals.registry import Seal, SealCa, SealStatus, active_seal, refresh_crl, revoke_seal, rotate_seal


def test_two_revocations_at_once_are_both_in_the_crl_published_last(settings: Settings,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Two departments' seals are revoked at once. Each revocation signs a new CRL; the one signed
    last must list both seals, or verifiers that fetch it trust the other seal again."""
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite lets one transaction write at a time: the second revocation cannot start before the first ends")
    with standalone_session(settings.database_url) as session:
        departments = sorted({seal.department_code for seal in session.scalars(
            select(Seal).where(Seal.status == SealStatus.ACTIVE))})[:2]
        serials = {active_seal(session, department).serial_hex for department in departments}
    assert len(serials) == 2
    signing, go_on = threading.Event(), threading.Event()
    build_crl, calls = ca.build_crl, []

    def first_one_pauses(*args: Any, **kwargs: Any) -> x509.CertificateRevocationList:
        calls.append(1)
        if len(calls) == 1:  # the first officer's CRL is being signed; its revocation is not committed yet
            signing.set()
            assert go_on.wait(30)
        return build_crl(*args, **kwargs)

    monkeypatch.setattr(ca, "build_crl", first_one_pauses)

    def revoke(department: str) -> None:
        with standalone_session(settings.database_url) as session:
            revoke_seal(session, seal_settings(settings), department, RevocationReason.KEY_COMPROMISE)

    first = threading.Thread(target=revoke, args=(departments[0],))
    first.start()
    assert signing.wait(30)
    second = threading.Thread(target=revoke, args=(departments[1],))
    second.start()
    second.join(1)  # as long as it takes, or until it waits for the first
    go_on.set()
    first.join(30)
    second.join(30)
    assert len(calls) == 2
    with standalone_session(settings.database_url) as session:
        crl = x509.load_der_x509_crl(session.scalars(select(SealCa)).one().crl_der)
    assert serials <= {format(entry.serial_number, "x") for entry in crl}


@pytest.mark.parametrize("meanwhile", ["rotate", "revoke"])
def test_a_command_on_a_seal_being_revoked_leaves_the_revocation_as_it_was(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, meanwhile: str) -> None:
    """One officer revokes a seal for key compromise; while that revocation signs its CRL, another
    officer rotates the same department's seal, or revokes it for another reason. The seal must
    stay revoked for key compromise and stay in the CRL: a seal recorded as
    superseded instead drops out of every CRL signed later, and verifiers trust the key again."""
    with standalone_session(settings.database_url) as session:
        department = sorted(seal.department_code for seal in session.scalars(
            select(Seal).where(Seal.status == SealStatus.ACTIVE)))[0]
        serial = active_seal(session, department).serial_hex
    signing, go_on = threading.Event(), threading.Event()
    build_crl, calls = ca.build_crl, []

    def first_one_pauses(*args: Any, **kwargs: Any) -> x509.CertificateRevocationList:
        calls.append(1)
        if len(calls) == 1:
            signing.set()
            assert go_on.wait(30)
        return build_crl(*args, **kwargs)

    monkeypatch.setattr(ca, "build_crl", first_one_pauses)
    refused: list[Exception] = []

    def command(first: bool) -> None:
        with standalone_session(settings.database_url) as session:
            try:
                if first:
                    revoke_seal(session, seal_settings(settings), department, RevocationReason.KEY_COMPROMISE)
                elif meanwhile == "rotate":
                    rotate_seal(session, seal_settings(settings), department)
                else:
                    revoke_seal(session, seal_settings(settings), department, RevocationReason.CESSATION_OF_OPERATION)
            except SealError as error:
                refused.append(error)

    first = threading.Thread(target=command, args=(True,))
    first.start()
    assert signing.wait(30)
    second = threading.Thread(target=command, args=(False,))
    second.start()
    second.join(1)  # it reads the seal as active, then waits for the first command's lock
    go_on.set()
    first.join(30)
    second.join(30)
    assert len(refused) == 1, refused  # the second command, told the seal changed under it
    with standalone_session(settings.database_url) as session:
        revoked = session.scalars(select(Seal).where(Seal.serial_hex == serial)).one()
        assert (revoked.status, revoked.revocation_reason) == (SealStatus.REVOKED, "key_compromise")
        refresh_crl(session, seal_settings(settings), force=True)
        crl_der = session.scalars(select(SealCa)).one().crl_der
    assert crl_der is not None
    assert serial in {format(entry.serial_number, "x") for entry in x509.load_der_x509_crl(crl_der)}
