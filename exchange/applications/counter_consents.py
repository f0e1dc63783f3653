"""The written authorisation (授权书) people sign at a service counter, recorded as consents: one
counter consent per person for the proofs the department will pull about them, usable only by the
department system that recorded it (`needed_proofs` says which proofs an application pulls about
whom), and ending when the application is done (`end_consents_when_done`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from catalog.model import Catalog, Matter, Mode, Subject
from exchange.applications.context import HandlingContext
from exchange.applications.parties import Parties, Party, parties_for_scope
from exchange.applications.records import Application, ApplicationStatus, CommitmentRecord, CommitmentStatus
from exchange.clients import AuthenticatedClient
from exchange.consent import Channel, ConsentRequest, end_application_consents, grant_consents
from exchange.sources.contract import PULLED_MODES
from exchange.subjects import subject_key

_CHECKED_AT_A_SOURCE = PULLED_MODES | {Mode.COMMITMENT}


def needed_proofs(catalog: Catalog, matter: Matter, parties: Parties) -> dict[str, list[str]]:
    """Per party ref, the proofs about that person the application pulls from a source: the
    matter's person proofs in a pulled mode, and those taken by commitment (事后核查 pulls them
    to check the commitment), whose scope reaches the party."""
    needed: dict[str, list[str]] = {}
    for entry in matter.proofs:
        proof = catalog.proofs[entry.proof]
        if proof.subject is not Subject.PERSON or matter.mode_for(proof) not in _CHECKED_AT_A_SOURCE:
            continue
        for party in parties_for_scope(parties, entry.scope):
            needed.setdefault(party.ref, []).append(proof.code)
    return needed


def with_counter_consents(ctx: HandlingContext, session: Session, matter: str, client: AuthenticatedClient,
                          parties: Parties, proofs_for: Mapping[str, Sequence[str]], days: int,
                          application_id: str | None = None) -> Parties:
    """The parties, each person named in `proofs_for` (by ref) and without a consent of their own
    now holding a counter consent for those proofs to the client's department, bound to the client
    (and to `application_id`, with which it ends: `end_application_consents`). The caller commits."""
    asking: list[Party] = []
    grants: list[tuple[str, ConsentRequest]] = []
    for party in parties.all():
        proofs = proofs_for.get(party.ref)
        if party.id_number is None or party.consent_id is not None or not proofs:
            continue
        asking.append(party)
        grants.append((subject_key(ctx.pull.subject_hash_key, party.id_number),
                       ConsentRequest(matter=matter, proofs=proofs, consumer_department=client.department_code,
                                      days=days)))
    consents = grant_consents(session, ctx.catalog, grants, channel=Channel.COUNTER, now=ctx.now(),
                              bound_client_id=client.client_id, application_id=application_id)
    return parties.replaced([party.with_consent(consent.id) for party, consent in zip(asking, consents)])


def end_consents_when_done(session: Session, application_id: str, now: datetime) -> None:
    """End the application's counter consents once it is done: decided or withdrawn, with no
    commitment left to check (事后核查 pulls under them until then). In the caller's step."""
    application = session.get(Application, application_id)
    if application is not None and application.status in (ApplicationStatus.DECIDED, ApplicationStatus.WITHDRAWN):
        end_consents_unless_checking(session, application_id, now)


def end_consents_unless_checking(session: Session, application_id: str, now: datetime) -> None:
    """`end_consents_when_done` of an application the caller knows is decided or withdrawn."""
    pending = exists().where(CommitmentRecord.application_id == application_id,
                             CommitmentRecord.status == CommitmentStatus.PENDING.value)
    if not session.scalar(select(pending)):
        end_application_consents(session, application_id, now)
