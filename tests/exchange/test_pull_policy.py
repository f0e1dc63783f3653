"""The sharing rules as a matrix: (consumer department, matter, proof) combinations the catalog
does not allow are refused as forbidden-by-policy before any pull, and every refusal is logged.

The combinations asked cover every pair the catalog denies: each (department, matter), each
(matter, proof) and each (department, proof) of a denied combination is in at least one asked
combination (about 1,000 of the nearly 6,000 denied ones): the rule reads the matter's consumers
and the proof's handling in the matter, so a pair is where it can go wrong."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from catalog.model import Subject
from exchange.access_log import AccessRecord, Outcome
from exchange.clients import AuthenticatedClient, ClientScope
from exchange.pull_service import Envelope, PullContext, PullRefused, answer_request

PERSON = "11010519491231002X"
ORGANISATION = "91110000101623741K"


def covering_every_pair(denied: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The combinations of `denied`, in order, that have a pair of codes no combination before them has."""
    kept, seen = [], set()
    for department, matter, proof in denied:
        pairs = {("department-matter", department, matter), ("matter-proof", matter, proof),
                 ("department-proof", department, proof)}
        if not pairs <= seen:
            kept.append((department, matter, proof))
            seen |= pairs
    return kept


def test_every_pair_the_catalog_does_not_allow_is_refused_and_logged(pull_context: PullContext) -> None:
    context = pull_context
    catalog = context.catalog
    denied = [(department, matter, proof) for department in catalog.departments for matter in catalog.matters
              for proof in catalog.proofs if not catalog.may_request(department, matter, proof)]
    combinations = covering_every_pair(denied)
    for first, second in ((0, 1), (1, 2), (0, 2)):
        assert {(c[first], c[second]) for c in combinations} == {(c[first], c[second]) for c in denied}
    assert len(denied) > 5000 and len(combinations) > 500
    for department, matter_code, proof_code in combinations:
        client = AuthenticatedClient(f"client-{department.lower()}", department, "测试系统",
                                     frozenset({ClientScope.EXCHANGE_REQUEST}))
        organisation = catalog.proofs[proof_code].subject is Subject.ORGANISATION
        envelope = Envelope(
            request_id=f"{department}-{matter_code}-{proof_code}", caseworker_id="cw-1", case_number="C-1",
            matter=matter_code, proof=proof_code, purpose="测试",
            subject_id_number=None if organisation else PERSON,
            subject_uscc=ORGANISATION if organisation else None)
        with pytest.raises(PullRefused) as refusal:
            answer_request(context, client, envelope)
        assert refusal.value.kind == "forbidden-by-policy", (department, matter_code, proof_code)
    with context.sessions() as session:
        logged = session.scalar(select(func.count()).select_from(AccessRecord).where(
            AccessRecord.outcome == Outcome.DENIED, AccessRecord.reason == "forbidden-by-policy"))
    assert logged == len(combinations)


def test_a_request_about_an_organisation_must_state_the_matters_own_legal_basis(pull_context: PullContext) -> None:
    """No consent is asked for an organisation's data: the matter's legal basis is the basis, so a
    request stating another one is an input error, refused before any pull and logged."""
    context = pull_context
    client = AuthenticatedClient("client-rs", "RS", "测试系统", frozenset({ClientScope.EXCHANGE_REQUEST}))
    envelope = Envelope(request_id="rs-org-basis-1", caseworker_id="cw-1", case_number="C-1",
                        matter="EMPLOYMENT_REGISTRATION", proof="BUSINESS_LICENSE", purpose="测试",
                        subject_uscc=ORGANISATION, legal_basis="《某条例》第一条")
    with pytest.raises(PullRefused) as refusal:
        answer_request(context, client, envelope)
    assert (refusal.value.kind, refusal.value.field) == ("invalid-request", "#/legal_basis")
    with context.sessions() as session:
        logged = session.scalars(select(AccessRecord).where(AccessRecord.request_id == "rs-org-basis-1")).all()
    assert [(entry.outcome, entry.reason) for entry in logged] == [(Outcome.DENIED, "invalid-request")]
