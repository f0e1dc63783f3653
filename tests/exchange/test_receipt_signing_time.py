"""A receipt is signed in the step that stores the answer. The seal officer revokes the exchange's
seal while that step runs: the receipt's signing time is taken before the seal is read, so it
precedes the revocation and the receipt stays verifiable ("revoked after signing"), rather than
carrying a time after the revocation and verifying as signed by a revoked seal."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from api.settings import Settings
from demo.data import DemoResident
from exchange import pull_service
from exchange.pull_service import PullContext, answer_request
from exchange.receipts import check_receipt
from seals.ca import RevocationReason
from seals.registry import Seal, SealStatus, refresh_crl, revoke_seal, trust_store
from tests.exchange.conftest import CLIENT, consented_envelope


def test_a_receipt_signed_while_the_seal_is_revoked_carries_a_time_before_the_revocation(
        pull_context: PullContext, person: DemoResident, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite: the store step holds the write lock, so no revocation commits inside it")
    envelope = consented_envelope(pull_context, person, "revoked-meanwhile-1")
    signer_of = pull_service._signer_if_any

    def revoked_meanwhile(*args: Any, **kwargs: Any) -> Any:
        signer = signer_of(*args, **kwargs)
        time.sleep(1.1)  # receipts and CRLs state whole seconds: the revocation in a later one
        with pull_context.sessions.begin() as other:
            revoke_seal(other, pull_context.seal_settings, pull_context.exchange_department,
                        RevocationReason.CESSATION_OF_OPERATION)
        time.sleep(1.1)
        return signer

    monkeypatch.setattr(pull_service, "_signer_if_any", revoked_meanwhile)
    answered = answer_request(pull_context, CLIENT, envelope)
    with pull_context.sessions.begin() as session:
        refresh_crl(session, pull_context.seal_settings, force=True)
        trust = trust_store(session)
        seal = session.scalars(select(Seal).where(Seal.department_code == pull_context.exchange_department,
                                                  Seal.status == SealStatus.REVOKED)).one()
    check = check_receipt(answered.body["receipt"], answered.body["answer"], trust)
    assert check.claims is not None, check.verdict
    assert check.claims["iat"] < int(seal.revoked_at.timestamp())
    assert check.valid
