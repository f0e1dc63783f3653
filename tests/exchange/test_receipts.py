"""Receipts: signed by the exchange's seal only, at a time before any revocation it did not see.

A receipt is signed in the step that stores the answer. The seal officer revokes the exchange's
seal while that step runs: the receipt's signing time is taken before the seal is read, so it
precedes the revocation and the receipt stays verifiable ("revoked after signing"), rather than
carrying a time after the revocation and verifying as signed by a revoked seal."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import select

from api.settings import Settings
from demo.data import DemoResident
from exchange import pull_service
from exchange.pull_service import PullContext, answer_request
from core.base64url import b64url_decode
from exchange.receipts import check_receipt, sign_receipt
from seals.ca import RevocationReason
from seals.registry import Seal, SealStatus, active_signer, refresh_crl, revoke_seal, trust_store
from tests.exchange.conftest import CLIENT, consented_envelope


def test_a_receipt_signed_while_the_seal_is_revoked_carries_a_time_before_the_revocation(
        pull_context: PullContext, person: DemoResident, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The seal officer revokes the exchange's seal while a step stores answers it signed: the
    revocation waits for the step and takes its time after it, so the receipt verifies."""
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite: the store step holds the write lock, so no revocation commits inside it")
    envelope = consented_envelope(pull_context, person, "revoked-meanwhile-1")
    signer_of = pull_service._signer_if_any

    def revoke() -> None:
        with pull_context.sessions.begin() as other:
            revoke_seal(other, pull_context.seal_settings, pull_context.exchange_department,
                        RevocationReason.CESSATION_OF_OPERATION)

    seal_officer = threading.Thread(target=revoke)

    def revoked_meanwhile(*args: Any, **kwargs: Any) -> Any:
        signer = signer_of(*args, **kwargs)  # the seal held for the step: the revocation waits for its commit
        time.sleep(1.1)  # receipts and CRLs state whole seconds: the revocation in a later one
        seal_officer.start()
        time.sleep(1.1)
        return signer

    monkeypatch.setattr(pull_service, "_signer_if_any", revoked_meanwhile)
    answered = answer_request(pull_context, CLIENT, envelope)
    seal_officer.join(30)
    assert not seal_officer.is_alive()
    with pull_context.sessions.begin() as session:
        refresh_crl(session, pull_context.seal_settings, force=True)
        trust = trust_store(session)
        seal = session.scalars(select(Seal).where(Seal.department_code == pull_context.exchange_department,
                                                  Seal.status == SealStatus.REVOKED)).one()
    exchange = pull_context.catalog.departments[pull_context.exchange_department].uscc
    check = check_receipt(answered.body["receipt"], answered.body["answer"], trust, exchange)
    assert check.claims is not None, check.verdict
    assert check.claims["iat"] < int(seal.revoked_at.timestamp())
    assert check.valid


def test_a_receipt_signed_by_another_departments_seal_vouches_for_nothing(
        pull_context: PullContext, person: DemoResident) -> None:
    """A receipt proves what the exchange answered. One signed by another department's seal over
    an altered answer (an insider's forgery) verifies as a signature, but not as a receipt."""
    answered = answer_request(pull_context, CLIENT, consented_envelope(pull_context, person, "forged-receipt-1"))
    exchange = pull_context.catalog.departments[pull_context.exchange_department].uscc
    with pull_context.sessions() as session:
        trust = trust_store(session)
        genuine = check_receipt(answered.body["receipt"], answered.body["answer"], trust, exchange)
        assert genuine.valid and genuine.by_the_exchange
        altered = {**answered.body["answer"], "data": {**answered.body["answer"]["data"], "has_registered_property": True}}
        other = active_signer(session, pull_context.seal_settings, "MZ")
    claims = json.loads(b64url_decode(answered.body["receipt"].split(".")[1]))
    forged = sign_receipt(other, receipt_id=claims["jti"], issued_at=datetime.now(timezone.utc),
                          request_document={}, answer=altered, consumer=claims["consumer"])
    check = check_receipt(forged, altered, trust, exchange)
    assert check.verdict.valid and check.matches_answer  # a genuine seal of the city, over that answer
    assert not check.by_the_exchange and not check.valid
