"""Resolving an application's proofs, round by round, until nothing more can be done now.

Each round plans the matter's proofs whose condition (`when`) can now be decided (a condition
that reads another proof waits for it), then resolves every due item by its mode in this
matter: data sharing, online issue and e-license proofs are pulled through the exchange (one
batch of ordinary exchange requests, each under the same policy, consent and logging and with
its own access-log entry, with a request id derived from the item so a repeat never pulls twice;
the sources over the network asked in parallel); abolished proofs are skipped;
commitment proofs take the applicant's offered commitment; investigation proofs become a task
of their department. A source that cannot answer leaves its item waiting, to be retried (or,
where the matter allows it and the applicant has offered one, replaced by a commitment).

When no item blocks any more, the application is decided. Work on one application is leased,
so two processes never resolve it at once and a process that dies leaves it to the next sweep.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, case, func, insert, or_, select
from sqlalchemy.orm import Session

from catalog.model import Matter, MatterProof, Mode
from catalog.expression_names import expression_reads
from exchange.applications.commitments import CommitmentOffer, seal_commitment
from exchange.applications.counter_consents import end_consents_unless_checking
from exchange.applications.context import HandlingContext, acting_client
from exchange.applications.decision import Decision, decide, matter_dropped
from exchange.applications.evaluation import REFUSED_ZH, Binding, Known, Unanswered
from exchange.applications.leases import (
    RENEW_AFTER, Lease, claim_lease, new_lease, release_in, release_lease, renew_lease,
)
from exchange.applications.parties import Parties, Party, about_key, parties_for_scope
from exchange.applications.records import (
    Application, ApplicationItem, ApplicationStatus, CommitmentRecord, CommitmentStatus, InvestigationTask, ItemState,
)
from exchange.applications.verifiability import verifiable
from exchange.clients import AuthenticatedClient, ClientRevoked
from exchange.keyring import Sealed
from exchange.pull_service import Envelope, PullRefused, PullResult, answer_request, answer_requests
from exchange.receipts import receipt_id
from exchange.record_ids import new_record_id
from exchange.subjects import subject_key
from seals.registry import held_signer

NO_PARTY = "-"
CONFLICT_RETRY_SECONDS = 5
IN_FLIGHT_ZH = "同一调取请求仍在处理中，将自动重试"
CLIENT_REVOKED_ZH = "办理部门的业务系统已停用（令牌已吊销），不再以其名义调取"
REFUSAL_ZH = {"forbidden-by-policy": "共享规则不允许调取", "consent-required": "缺少本人有效授权",
              "invalid-request": "请求内容有误", "conflict": "调取请求号已用于内容不同的请求"}


@dataclass(frozen=True)
class Pulled:
    """What one pull through the exchange came to: the state it leaves a proof in, and the data."""

    state: ItemState
    detail: str | None = None
    values: dict[str, object] | None = None
    as_of: datetime | None = None
    receipt_id: str | None = None
    answer: dict[str, Any] | None = None
    """The exchange's answer with its receipt, as it returned them."""
    retry_after: int | None = None
    license: str | None = None
    """The license version the exchange answered from (`source.license` of the answer), if any."""
    source_down: bool = False
    """Waiting because the source department cannot answer now: the case a commitment may stand
    in for (`commitment_fallback`). Not when the exchange itself cannot answer, nor when the same
    request is still being answered (a process that died mid-pull holds its reservation a while)."""


@dataclass(frozen=True)
class Loaded:
    """An application with its parties, offered commitments and items, read in one go."""

    application: Application
    parties: Parties
    offers: tuple[CommitmentOffer, ...]
    items: tuple[ApplicationItem, ...]

    def under(self, matter: Matter) -> Loaded:
        """The application as the live `matter` reads it: without the items of proofs a
        publication has since taken out of the matter (or out of the catalog), which nothing
        pulls, waits for or decides by any more."""
        listed = {entry.proof for entry in matter.proofs}
        return replace(self, items=tuple(item for item in self.items if item.proof in listed))


@dataclass(frozen=True)
class Filing:
    """What filing an application hands to the caller that resolves it right away: the lease the
    filing took, the application as filed (with its first round's items), and the system that
    filed it, authenticated by the same request."""

    lease: Lease
    loaded: Loaded
    client: AuthenticatedClient


def load(ctx: HandlingContext, application_id: str) -> Loaded:
    with ctx.uow.read() as session:
        application = session.get(Application, application_id)
        if application is None:
            raise KeyError(application_id)
        items = session.scalars(select(ApplicationItem).where(ApplicationItem.application_id == application_id)
                                .order_by(ApplicationItem.position, ApplicationItem.id)).all()
        session.expunge_all()
    parties = Parties.from_document(ctx.open(application.parties_sealed, application.id))
    offers = tuple(CommitmentOffer.from_document(offer) for offer in ctx.open(application.offers_sealed, application.id)["offers"])
    return Loaded(application, parties, offers, tuple(items))


def resolve_application(ctx: HandlingContext, application_id: str, filing: Filing | None = None, *,
                        unless_decided: bool = False) -> bool:
    """Resolve what can be resolved now and decide if nothing blocks; False if another process
    holds the application's lease, or it was withdrawn. `filing`: what the filing handed over to the caller
    (`service.submit_application`): its lease, so nothing is claimed or read first; without it,
    the lease is claimed here and the application read. `unless_decided`: False too when the
    application is decided by the time its lease is claimed (a sweep that listed it as due, while
    another process concluded it), rather than taking it back to resolving and deciding it again."""
    lease = filing.lease if filing else new_lease(ctx)
    done = (ApplicationStatus.WITHDRAWN, *((ApplicationStatus.DECIDED,) if unless_decided else ()))
    if filing is None and not claim_lease(ctx, Application, application_id, lease.holder,
                                          only_if=Application.status.not_in([status.value for status in done]),
                                          status=ApplicationStatus.RESOLVING.value):
        return False
    renewed = lease.taken_at  # the lease runs until LEASE after this, at the least
    concluded = False
    try:
        loaded = filing.loaded if filing else load(ctx, application_id)
        matter = ctx.catalog.matters.get(loaded.application.matter)
        if matter is None:  # a publication since the filing dropped the matter: nothing left to pull by
            with ctx.uow.step("conclude") as session:
                concluded = _conclude_dropped_in(ctx, session, loaded, lease.holder)
            return True
        loaded = loaded.under(matter)
        while not concluded:
            if ctx.progress is not None:
                ctx.progress()
            if ctx.now() - renewed >= RENEW_AFTER:  # before, nobody can have taken the lease over
                renewed = ctx.now()
                if not renew_lease(ctx, Application, application_id, lease.holder):
                    return True  # the lease ran out and another process took the application over
            loaded, new = _planned(ctx, loaded, matter)
            if new:  # a round a sweep resumes may find new conditions decidable
                with ctx.uow.step("plan-items") as session:
                    if _holder_now(session, application_id) != lease.holder:
                        return True  # the lease ran out: the application was withdrawn or taken over
                    _insert_items(session, new)
                loaded = load(ctx, application_id).under(matter)
            due = _due(ctx, loaded)
            if due:
                concluded = _resolve(ctx, loaded, matter, due, lease.holder, filing.client if filing else None)
            else:  # concluded as a round's step concludes, from the application as it stands then
                with ctx.uow.step("conclude") as session:
                    concluded = _store_round(ctx, session, loaded, matter, (), (), lease.holder)
            if not concluded:
                loaded = load(ctx, application_id).under(matter)
    finally:
        if not concluded:
            release_lease(ctx, Application, application_id, lease.holder)
    return True


def knowledge(ctx: HandlingContext, loaded: Loaded, refuted: Collection[str] = ()) -> list[Known]:
    """The resolved values of the application, each with its party and source; not those of the
    commitments 事后核查 found false (`refuted`, their items' ids)."""
    known = []
    for item in loaded.items:
        if item.state not in (ItemState.RESOLVED, ItemState.COMMITTED, ItemState.INVESTIGATED) or item.values_sealed is None \
                or item.id in refuted:
            continue
        party = loaded.parties.get(item.party)
        known.append(Known(item.proof, item.party, party.label, ctx.open(item.values_sealed, item_bound(item)),
                           _source(ctx, item)))
    return known


def binding(ctx: HandlingContext, loaded: Loaded, matter: Matter, refuted: Collection[str] = ()) -> Binding:
    """What the application's expressions read; a commitment found false (`refuted`) is no answer,
    so no rule reads the committed value as if it held."""
    household = {party.ref: party.label for party in loaded.parties.household}
    return Binding(ctx.catalog, matter, household, knowledge(ctx, loaded, refuted), loaded.application.options,
                   ctx.now(), unanswered(loaded, refuted),
                   identities={party.ref: party.id_number for party in loaded.parties.household})


_UNANSWERED_ZH = {ItemState.DENIED: REFUSED_ZH, ItemState.INVESTIGATING: "部门核查中"}
REFUTED_ZH = "承诺经事后核查不实"
"""`Unanswered.why_zh` of a commitment 事后核查 found false."""


def unanswered(loaded: Loaded, refuted: Collection[str] = ()) -> list[Unanswered]:
    """The application's proofs the exchange holds no answer for, though their source was asked,
    or whose commitment was found false."""
    found = []
    for item in loaded.items:
        why = REFUTED_ZH if item.id in refuted else _UNANSWERED_ZH.get(ItemState(item.state))
        party = loaded.parties.get(item.party) if item.party != NO_PARTY else None
        if why is not None and party is not None:
            found.append(Unanswered(item.proof, item.party, party.label, why))
    return found


def _source(ctx: HandlingContext, item: ApplicationItem) -> dict[str, object]:
    if item.state == ItemState.COMMITTED:
        return {"kind": "commitment", "commitment_id": item.commitment_id}
    kind = "investigation" if item.state == ItemState.INVESTIGATED else "data"
    return department_source(ctx, kind, item.mode, item.department, item.as_of, item.receipt_id, item.license)


def department_source(ctx: HandlingContext, kind: str, mode: str, department_code: str, as_of: datetime | None,
                      receipt: str | None, license: str | None = None) -> dict[str, object]:
    """Where a value from a department came from, as a decision's provenance shows it: with
    `license`, the identifier of the license version in the library it was read from."""
    department = ctx.catalog.departments.get(department_code)
    return {"kind": kind, "mode": mode, "department": department_code,
            "department_name": department.legal_name_zh if department else department_code,
            "as_of": as_of.isoformat() if as_of else None, "receipt_id": receipt,
            **({"license": license} if license else {})}


def item_bound(item: ApplicationItem) -> str:
    """What the sealed values of an item are bound to (they cannot be moved to another item)."""
    return f"{item.application_id}\n{item.proof}\n{item.party}"


def answer_bound(item: ApplicationItem) -> str:
    """What the sealed answer of an item is bound to (apart from its values)."""
    return f"{item_bound(item)}\nanswer"


# --- planning ---------------------------------------------------------------------------


def plan_filed(ctx: HandlingContext, session: Session, application: Application, parties: Parties,
               offers: Sequence[CommitmentOffer]) -> Loaded:
    """In the step that files `application`: the items of its first round (see `_planned`); the
    application as filed, with them."""
    matter = ctx.catalog.matters[application.matter]
    _loaded, new = _planned(ctx, Loaded(application, parties, tuple(offers), ()), matter)
    items = session.scalars(insert(ApplicationItem).returning(ApplicationItem), _item_rows(new)).all() if new else []
    return Loaded(application, parties, tuple(offers), tuple(sorted(items, key=lambda item: (item.position, item.id))))


def _planned(ctx: HandlingContext, loaded: Loaded, matter: Matter) -> tuple[Loaded, list[ApplicationItem]]:
    """The items of every proof whose condition can now be decided, planned until no more can be
    (a proof found not required may settle another's condition): `loaded` with them, and the new
    items (not stored: `_insert_items`)."""
    planned: list[ApplicationItem] = []
    while new := _plan(ctx, loaded, matter):
        planned += new
        items = sorted((*loaded.items, *new), key=lambda item: item.position)  # stable: ids stay in order
        loaded = replace(loaded, items=tuple(items))
    return loaded, planned


def _plan(ctx: HandlingContext, loaded: Loaded, matter: Matter) -> list[ApplicationItem]:
    """The items of every proof not yet planned whose condition can now be decided."""
    by_proof: dict[str, list[ApplicationItem]] = {}
    for item in loaded.items:
        by_proof.setdefault(item.proof, []).append(item)
    new: list[ApplicationItem] = []
    current: Binding | None = None
    for position, entry in enumerate(matter.proofs):
        if entry.proof in by_proof or not _condition_ready(matter, entry, by_proof):
            continue
        required, detail = True, None
        if entry.when:
            current = current or binding(ctx, loaded, matter)
            evaluation = current.evaluate(entry.when)
            required = evaluation.result is not False
            detail = (f"条件不适用：{entry.condition_zh or entry.when}" if not required else
                      f"条件无法判断（{evaluation.error}），按需要办理" if evaluation.result is None else None)
        new += _items_for(ctx, loaded, matter, entry, position, required, detail)
    return new


_PLANNED_COLUMNS = ("application_id", "position", "proof", "party", "mode", "department", "state", "detail")
"""What planning sets of an item; the rest starts empty."""


def _insert_items(session: Session, items: Sequence[ApplicationItem]) -> None:
    """Store planned items in one statement (their ids are read back when the application is next loaded)."""
    if items:
        session.execute(insert(ApplicationItem), _item_rows(items))


def _item_rows(items: Sequence[ApplicationItem]) -> list[dict[str, object]]:
    return [{name: getattr(item, name) for name in _PLANNED_COLUMNS} for item in items]


def _condition_ready(matter: Matter, entry: MatterProof, by_proof: dict[str, list[ApplicationItem]]) -> bool:
    """Whether every proof the entry's condition reads is settled (planned and not blocking)."""
    if not entry.when:
        return True
    codes = {other.proof for other in matter.proofs}
    for name, _field in expression_reads(entry.when):
        code = name.upper()
        if code in codes and (code not in by_proof or any(ItemState(i.state).blocks_decision for i in by_proof[code])):
            return False
    return True


def _items_for(ctx: HandlingContext, loaded: Loaded, matter: Matter, entry: MatterProof, position: int,
               required: bool, detail: str | None) -> list[ApplicationItem]:
    proof = ctx.catalog.proofs[entry.proof]
    mode = matter.mode_for(proof)
    parties = parties_for_scope(loaded.parties, entry.scope)
    base = {"application_id": loaded.application.id, "position": position, "proof": proof.code, "mode": mode.value,
            "department": proof.department}
    if not required or not parties:
        state_detail = detail if not required else "申请未提供该证明所涉及的人员"
        return [ApplicationItem(**base, party=NO_PARTY, state=ItemState.NOT_REQUIRED.value, detail=state_detail)]
    state = ItemState.ABOLISHED if mode is Mode.ABOLISHED else ItemState.PENDING
    return [ApplicationItem(**base, party=party.ref, state=state.value, detail=detail) for party in parties]


# --- resolving --------------------------------------------------------------------------


def _offer(loaded: Loaded, item: ApplicationItem) -> CommitmentOffer | None:
    return next((o for o in loaded.offers if o.proof == item.proof and o.party == item.party), None)


def _due(ctx: HandlingContext, loaded: Loaded) -> list[ApplicationItem]:
    now = ctx.now()
    due = []
    for item in loaded.items:
        state = ItemState(item.state)
        offered = _offer(loaded, item) is not None
        if state is ItemState.PENDING or state is ItemState.AWAITING_COMMITMENT and offered:
            due.append(item)
        elif state is ItemState.WAITING and (item.next_attempt_at is None or item.next_attempt_at <= now):
            due.append(item)
    return due


def _resolve(ctx: HandlingContext, loaded: Loaded, matter: Matter, due: Sequence[ApplicationItem], holder: str,
             filer: AuthenticatedClient | None) -> bool:
    """Resolve the due items (pulling as `filer`, the system whose request filed the application,
    else as `acting_client` finds it); whether that concluded the application. The pulls are one batch of
    exchange requests (`answer_requests`: one step claims and logs them all, the sources over the
    network are asked in parallel), and the step that stores their answers is the round's `_store_round`: it also
    stores the items they settle, seals the offered commitments, plans the next round and, when
    nothing is left to do now, concludes; so an answer is never stored without its item, nor an
    item without its answer."""
    pulls: list[ApplicationItem] = []
    commitments: list[tuple[ApplicationItem, CommitmentOffer, bool]] = []
    for item in due:
        mode = Mode(item.mode)
        offer = _offer(loaded, item)
        if mode is Mode.COMMITMENT and offer is None:
            _set(ctx, item.id, state=ItemState.AWAITING_COMMITMENT, detail="待申请人签署告知承诺")
        elif mode is Mode.COMMITMENT and offer is not None:
            commitments.append((item, offer, False))
        elif mode is Mode.INVESTIGATION:
            _open_task(ctx, item)
        else:
            pulls.append(item)
    denied: list[tuple[ApplicationItem, Pulled]] = []
    try:
        client = filer or acting_client(ctx, loaded.application.client_id, loaded.application.consumer_department)
    except ClientRevoked:
        denied = [(item, Pulled(ItemState.DENIED, detail=CLIENT_REVOKED_ZH)) for item in pulls]
        pulls = []
    if not pulls:
        with ctx.uow.step("store-round") as session:
            return _store_round(ctx, session, loaded, matter, denied, commitments, holder)
    envelopes = [_envelope(loaded, matter, item) for item in pulls]
    concluded = False

    def settle(session: Session, outcomes: list[PullResult | PullRefused]) -> None:
        """In the transaction that stores the answers: the rest of the round."""
        nonlocal concluded
        settled = [(item, pulled_from(ctx, envelope, outcome))
                   for item, envelope, outcome in zip(pulls, envelopes, outcomes)]
        concluded = _store_round(ctx, session, loaded, matter, settled, commitments, holder)

    answer_requests(ctx.pull, client, envelopes, alongside=settle)
    return concluded


def _store_round(ctx: HandlingContext, session: Session, loaded: Loaded, matter: Matter,
                 settled: Sequence[tuple[ApplicationItem, Pulled]],
                 commitments: Sequence[tuple[ApplicationItem, CommitmentOffer, bool]], holder: str) -> bool:
    """In the round's last step: store what the pulls came to and seal the commitments, plan the
    next round with what is now known (the application as it stands, `_as_it_stands`) and, if
    that leaves nothing due, conclude (`_conclude_in`); whether it concluded. A commitment the
    applicant offers for a proof whose source was down stands in for it (`commitment_fallback`),
    one offered while the source was asked included: adding it asked for a resolution, which this
    round's lease refused. With nothing settled
    and no commitments, it is the step that concludes a round that pulled nothing. Planning and
    concluding follow from what is stored alone, so a step of their own would protect nothing: a
    process that dies before this commit leaves the round to be done again, one that dies after it
    leaves nothing undone. A process whose lease ran out meanwhile, and the application was
    withdrawn or taken over, stores nothing (and is done: True)."""
    stands = _as_it_stands(ctx, session, loaded, holder)
    if stands is None:
        return True
    current, flag_reason = stands
    _retire_dropped(current, matter)
    current = current.under(matter)
    fallbacks = [(item, offer, True) for item, pulled in settled if pulled.source_down
                 and (offer := _offer(current, item)) is not None and matter.entry(item.proof).commitment_fallback]
    taken = {item.id for item, _offer_, _fallback in fallbacks}
    _seal_commitments(ctx, session, loaded, matter, [*commitments, *fallbacks])
    _store_pulls(ctx, session, [(item, pulled) for item, pulled in settled if item.id not in taken])
    now_known, new = _planned(ctx, current, matter)
    _insert_items(session, new)
    if _due(ctx, now_known):
        return False
    _conclude_in(ctx, session, now_known, matter, holder, flag_reason)
    return True


DROPPED_ZH = "发布的目录已不再要求此项证明"


def _retire_dropped(loaded: Loaded, matter: Matter) -> None:
    """The items of proofs a publication has since taken out of the matter that were still awaited
    (pending, waiting for the source or for a commitment): not required any more, saying why, since
    nothing pulls, waits for or decides by them (`Loaded.under`). Settled ones stay as they were.
    Its items are the session's (`_as_it_stands`): stored with the step."""
    listed = {entry.proof for entry in matter.proofs}
    for item in loaded.items:
        if item.proof not in listed and ItemState(item.state).blocks_decision:
            item.state, item.detail, item.next_attempt_at = ItemState.NOT_REQUIRED.value, DROPPED_ZH, None


def _holder_now(session: Session, application_id: str) -> str | None:
    """Who holds the application's lease, read under its row lock (on SQLite, the step's write
    lock): a withdrawal or a takeover takes the same lock, so it is either seen here or waits for
    the step's commit."""
    return session.scalar(select(Application.lease_holder).where(Application.id == application_id).with_for_update())


def _as_it_stands(ctx: HandlingContext, session: Session, loaded: Loaded,
                  holder: str) -> tuple[Loaded, str | None] | None:
    """`loaded` with the items and offered commitments the application has now, and why 事后核查
    flagged it (None if it is not flagged), read under the application's row lock (on SQLite, the
    step's write lock); None when the lease is no longer `holder`'s (it ran out, and the
    application was withdrawn or taken over: a withdrawal or a takeover takes the same lock).
    Whoever changes these while another process holds the lease (a check that flags it, a
    department's finding, commitments added) takes the same lock and then asks for the
    application to be resolved, which the lease refuses: so the holder must see the change here,
    or the change waits for this step's commit and then finds the lease free. The items stay in the
    session's identity map, so storing a pull's outcome (`session.get`) reads none of them again."""
    application = loaded.application
    held_by, flagged, reason, offers_key_id, offers_blob = session.execute(
        select(Application.lease_holder, Application.flagged, Application.flag_reason, Application.offers_key_id,
               Application.offers_blob).where(Application.id == application.id).with_for_update()).one()
    if held_by != holder:
        return None
    items = session.scalars(select(ApplicationItem).where(ApplicationItem.application_id == application.id)
                            .order_by(ApplicationItem.position, ApplicationItem.id)).all()
    offers_sealed = Sealed(offers_key_id, offers_blob)
    offers = loaded.offers if offers_sealed == application.offers_sealed else tuple(
        CommitmentOffer.from_document(offer) for offer in ctx.open(offers_sealed, application.id)["offers"])
    return replace(loaded, offers=offers, items=tuple(items)), (reason or "") if flagged else None


def _envelope(loaded: Loaded, matter: Matter, item: ApplicationItem) -> Envelope:
    """The exchange request of an item's pull; its request id is the item's, so a repeat never pulls twice."""
    application = loaded.application
    party = loaded.parties.get(item.party)
    return Envelope(
        request_id=f"app:{application.id}:{item.id}", caseworker_id=application.caseworker_id,
        case_number=application.case_number, matter=matter.code, proof=item.proof,
        purpose=f"办理{matter.name_zh}（案件号 {application.case_number}）", subject_name=party.name,
        subject_id_number=party.id_number, subject_uscc=party.uscc, consent_id=party.consent_id,
    )


def pull_proof(ctx: HandlingContext, client: AuthenticatedClient, envelope: Envelope) -> Pulled:
    """One ordinary exchange request, as `pulled_from` makes of it."""
    try:
        return pulled_from(ctx, envelope, answer_request(ctx.pull, client, envelope))
    except PullRefused as refused:
        return pulled_from(ctx, envelope, refused)


def pulled_from(ctx: HandlingContext, envelope: Envelope, outcome: PullResult | PullRefused) -> Pulled:
    """What an exchange request came to for the proof: resolved with its data; or, refused, the
    state it leaves the proof in: not found, waiting (the source cannot answer now — the one case
    marked `source_down` —, the exchange cannot, or the same request is in flight) or denied (among
    others when its request id holds a request with other content, which no repeat can change)."""
    if isinstance(outcome, PullRefused):
        if outcome.kind == "subject-not-found":
            return Pulled(ItemState.NOT_FOUND, detail="来源部门无此人记录")
        retry_after = outcome.retry_after or CONFLICT_RETRY_SECONDS
        if outcome.kind == "source-unavailable":
            source = department_zh(ctx, ctx.catalog.proofs[envelope.proof].department)
            return Pulled(ItemState.WAITING, detail=f"{source}暂时无法应答，将自动重试", retry_after=retry_after,
                          source_down=True)
        if outcome.kind == "source-error":  # the next answer would be as faulty: a caseworker looks
            source = department_zh(ctx, ctx.catalog.proofs[envelope.proof].department)
            return Pulled(ItemState.DENIED, detail=f"{source}的答复有误（不符合接口约定或拒绝了查询），未能获取，请人工核实")
        if outcome.kind == "service-unavailable":
            return Pulled(ItemState.WAITING, detail="交换平台暂时无法应答，将自动重试", retry_after=retry_after)
        if outcome.kind == "conflict" and outcome.retry_after:  # otherwise the id holds another request: denied
            return Pulled(ItemState.WAITING, detail=IN_FLIGHT_ZH, retry_after=retry_after)
        return Pulled(ItemState.DENIED, detail=f"{REFUSAL_ZH.get(outcome.kind, '交换未获准许')}（{outcome.kind}）")
    answer = outcome.body["answer"]
    license = answer["source"].get("license")
    return Pulled(ItemState.RESOLVED, values=dict(answer["data"]), as_of=datetime.fromisoformat(answer["as_of"]),
                  receipt_id=receipt_id(outcome.body["receipt"]), answer=dict(outcome.body),
                  license=license["license"] if license else None)


def _store_pulls(ctx: HandlingContext, session: Session, settled: Sequence[tuple[ApplicationItem, Pulled]]) -> None:
    """Store what the pulls that finished together came to, in the caller's transaction."""
    now = ctx.now()
    for item, pulled in settled:
        row = session.get(ApplicationItem, item.id)
        assert row is not None
        row.state, row.detail, row.attempts = pulled.state.value, pulled.detail, row.attempts + 1
        if pulled.state is ItemState.WAITING:
            row.next_attempt_at = now + timedelta(seconds=pulled.retry_after or CONFLICT_RETRY_SECONDS)
        else:
            row.next_attempt_at, row.resolved_at = None, now
        if pulled.values is not None:
            row.values_sealed = ctx.seal(pulled.values, item_bound(row))
            row.as_of, row.receipt_id, row.license = pulled.as_of, pulled.receipt_id, pulled.license
            row.answer_sealed = ctx.seal(pulled.answer, answer_bound(row)) if pulled.answer is not None else None


def _set(ctx: HandlingContext, item_id: int, *, state: ItemState, detail: str | None) -> None:
    with ctx.uow.step("set-item") as session:
        row = session.get(ApplicationItem, item_id)
        assert row is not None
        row.state, row.detail = state.value, detail


def _seal_commitments(ctx: HandlingContext, session: Session, loaded: Loaded, matter: Matter,
                      commitments: Sequence[tuple[ApplicationItem, CommitmentOffer, bool]]) -> None:
    """Seal each offered commitment (item, offer, taken as a fallback) and let it stand in for the
    item's proof, in the caller's transaction."""
    application = loaded.application
    now = ctx.now()
    if not commitments:
        return
    signer = held_signer(session, ctx.pull.seal_settings, ctx.pull.exchange_department)  # a revocation waits
    # for this step, and takes its time after it
    for item, offer, fallback in commitments:
        proof = ctx.catalog.proofs[item.proof]
        party: Party = loaded.parties.get(item.party)
        about = subject_key(ctx.pull.subject_hash_key, party.id_number) if party.id_number else party.uscc or ""
        signed = seal_commitment(signer, matter=matter, proof=proof, offer=offer, application_id=application.id,
                                 case_number=application.case_number, subject=about,
                                 signer_key=application.applicant_key, fallback=fallback, sealed_at=now)
        checkable = verifiable(ctx.catalog, proof)
        session.add(CommitmentRecord(
            id=signed.id, application_id=application.id, item_id=item.id, matter=matter.code, proof=proof.code,
            handling_department=application.consumer_department, subject_key=about, fallback=fallback,
            channel=offer.signature["channel"], signed_at=datetime.fromisoformat(offer.signature["signed_at"]),
            token_sealed=ctx.seal({"token": signed.token}, f"commitment\n{signed.id}"),
            status=(CommitmentStatus.PENDING if checkable else CommitmentStatus.ON_SITE).value,
            next_verify_at=now if checkable else None,
        ))
        row = session.get(ApplicationItem, item.id)
        assert row is not None
        row.state, row.commitment_id, row.resolved_at, row.next_attempt_at = \
            ItemState.COMMITTED.value, signed.id, now, None
        row.detail = f"{department_zh(ctx, item.department)}暂时无法应答，以告知承诺代替" if fallback else "以告知承诺代替"
        row.values_sealed = ctx.seal(dict(offer.values), item_bound(row))


def _open_task(ctx: HandlingContext, item: ApplicationItem) -> None:
    with ctx.uow.step("open-task") as session:
        session.add(InvestigationTask(id=new_record_id(), application_id=item.application_id, item_id=item.id,
                                      department=item.department, proof=item.proof, status="open", created_at=ctx.now()))
        row = session.get(ApplicationItem, item.id)
        assert row is not None
        row.state = ItemState.INVESTIGATING.value
        row.detail = f"已交{department_zh(ctx, item.department)}核查"


def department_zh(ctx: HandlingContext, code: str) -> str:
    """The department's short Chinese name (its code if the catalog no longer has it)."""
    department = ctx.catalog.departments.get(code)
    return department.name_zh if department else code


# --- concluding -------------------------------------------------------------------------


def _conclude_in(ctx: HandlingContext, session: Session, loaded: Loaded, matter: Matter, holder: str,
                 flag_reason: str | None) -> None:
    """Decide the application if nothing blocks, else mark it waiting, and release `holder`'s
    lease with it; only while the lease is still `holder`'s (a process whose lease ran out and was
    taken over leaves the application to the new holder). `flag_reason`: why 事后核查 flagged it,
    as `_as_it_stands` read it. In the caller's step."""
    now = ctx.now()
    application = loaded.application
    if any(ItemState(item.state).blocks_decision for item in loaded.items):
        values: dict[str, object] = {"status": ApplicationStatus.WAITING.value}
    else:
        no_record = [(item.proof, loaded.parties.get(item.party).label) for item in loaded.items
                     if item.state == ItemState.NOT_FOUND and item.party != NO_PARTY]
        notes = [*_notes(ctx, loaded, flag_reason), *_others_of_the_household(ctx, session, loaded)]
        refuted = [] if flag_reason is None else session.scalars(select(CommitmentRecord.item_id).where(
            CommitmentRecord.application_id == application.id,
            CommitmentRecord.status == CommitmentStatus.FALSE.value)).all()
        values = _decided(ctx, application.id, decide(matter, binding(ctx, loaded, matter, refuted), notes, no_record),
                          now)
    held = release_in(session, Application, application.id, holder, updated_at=now, **values)
    if held and values["status"] == ApplicationStatus.DECIDED:
        end_consents_unless_checking(session, application.id, now)


def _others_of_the_household(ctx: HandlingContext, session: Session, loaded: Loaded) -> list[str]:
    """A note for each other application of the same matter, not refused nor withdrawn, whose applicant is this
    one's applicant or one of its members (a household filing twice under another case number, or
    with the spouse as applicant) and, in a matter about a child or a deceased person, about the
    same one (a parent's second child is no duplicate), or filed by anyone about the same one (the
    other parent, not naming this applicant): for a caseworker to see before anything is granted
    twice. Those decided eligible are named first, then the newest. Read in the concluding step:
    two filed at once both see each other."""
    application, parties = loaded.application, loaded.parties
    keys = {subject_key(ctx.pull.subject_hash_key, party.id_number) for party in parties.household if party.id_number}
    about = about_key(ctx.pull.subject_hash_key, parties)
    rows = _other_applications(session, application, Application.applicant_key.in_(keys)) if keys else []
    if about is not None:  # read apart: no index serves "filed by … or about …" at once
        read = {row.id for row in rows}
        rows += [row for row in _other_applications(session, application, Application.about_key == about)
                 if row.id not in read]
    rows = sorted(sorted(rows, key=lambda row: row.created_at, reverse=True),  # granted first, then the newest
                  key=lambda row: row.decision != Decision.ELIGIBLE.value)[:_OTHERS_READ]
    notes = []
    for other_id, case_number, decision, other_applicant, other_about, parties_key_id, parties_blob, _ in rows:
        if about is not None and (other_about or about_key(ctx.pull.subject_hash_key, Parties.from_document(
                ctx.open(Sealed(parties_key_id, parties_blob), other_id)))) != about:  # filed before about_key
            continue
        whose = "本户另有本事项的申请" if other_applicant in keys else f"另有关于同一{'儿童' if parties.child else '逝者'}的本事项申请"
        notes.append(f"{whose}（案号 {case_number}，{Decision(decision).label_zh if decision else '尚未判定'}），"
                     "请核实是否重复申请")
        if len(notes) == _OTHERS_NAMED:
            break
    return notes


def _other_applications(session: Session, application: Application, whose: ColumnElement[bool]) -> list[Row[Any]]:
    """The newest `_OTHERS_READ` other applications of the matter `whose` picks, not withdrawn nor
    refused, those decided eligible first."""
    return list(session.execute(
        select(Application.id, Application.case_number, Application.decision, Application.applicant_key,
               Application.about_key, Application.parties_key_id, Application.parties_blob, Application.created_at)
        .where(Application.matter == application.matter, Application.id != application.id, whose,
               Application.status != ApplicationStatus.WITHDRAWN.value,
               or_(Application.decision.is_(None), Application.decision != Decision.NOT_ELIGIBLE.value))
        .order_by(case((Application.decision == Decision.ELIGIBLE.value, 0), else_=1),
                  Application.created_at.desc()).limit(_OTHERS_READ)).all())


_OTHERS_READ = 20
"""How many of the household's other applications of the matter are looked at."""
_OTHERS_NAMED = 3
"""How many of the household's other applications a decision names."""


def _conclude_dropped_in(ctx: HandlingContext, session: Session, loaded: Loaded, holder: str) -> bool:
    """Decide, for a caseworker to finish, an application whose matter a publication has dropped
    (`decision.matter_dropped`); in the caller's step. True (it is concluded either way: a process
    that took the lease over concludes it the same)."""
    now = ctx.now()
    application_id = loaded.application.id
    if release_in(session, Application, application_id, holder, updated_at=now,
                  **_decided(ctx, application_id, matter_dropped(), now)):
        end_consents_unless_checking(session, application_id, now)
    return True


def _decided(ctx: HandlingContext, application_id: str, document: dict[str, Any], now: datetime) -> dict[str, object]:
    """The columns of an application decided by `document` (sealed)."""
    sealed = ctx.seal(document, f"decision\n{application_id}")
    return {"status": ApplicationStatus.DECIDED.value, "decision": document["outcome"],
            "priorities": [p["code"] for p in document["priorities"] if p["granted"]],
            "decision_key_id": sealed.key_id, "decision_blob": sealed.blob,
            "decided_at": func.coalesce(Application.decided_at, now)}


def _notes(ctx: HandlingContext, loaded: Loaded, flag_reason: str | None) -> list[str]:
    notes = []
    for item in loaded.items:
        name = ctx.catalog.proofs[item.proof].name_zh
        if item.state == ItemState.DENIED:
            notes.append(f"{name}（{loaded.parties.get(item.party).label}）未能获取：{item.detail}")
        elif item.state == ItemState.INVESTIGATING:
            notes.append(f"{name}：{item.detail}，待核查结果")
    if flag_reason is not None:
        notes.append(f"承诺经核查不实：{flag_reason}")
    return notes


