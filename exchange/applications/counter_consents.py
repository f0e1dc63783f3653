"""The written authorisation (授权书) people sign at a service counter, recorded as consents: one
counter consent per person for the proofs the department will pull about them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from exchange.applications.context import HandlingContext
from exchange.applications.parties import Parties
from exchange.consent import Channel, ConsentRequest, grant_consent
from exchange.subjects import subject_key


def with_counter_consents(ctx: HandlingContext, session: Session, matter: str, department: str, parties: Parties,
                          proofs_for: Mapping[str, Sequence[str]], days: int) -> Parties:
    """The parties, each person named in `proofs_for` (by ref) and without a consent of their own
    now holding a counter consent for those proofs to `department`. The caller commits."""
    updated = []
    for party in parties.all():
        proofs = proofs_for.get(party.ref)
        if party.id_number is None or party.consent_id is not None or not proofs:
            continue
        consent = grant_consent(
            session, ctx.catalog, subject_key(ctx.pull.subject_hash_key, party.id_number),
            ConsentRequest(matter=matter, proofs=proofs, consumer_department=department, days=days),
            channel=Channel.COUNTER, now=ctx.now())
        updated.append(party.with_consent(consent.id))
    return parties.replaced(updated)
