"""Seal officers revoking at the same moment: the CRL published last lists every revoked seal."""

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
from seals.registry import Seal, SealCa, SealStatus, active_seal, revoke_seal


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
