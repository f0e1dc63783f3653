"""Issuing, listing and revoking e-certificates (电子证明).

A citizen asks for one of their own proofs. The exchange pulls the record from the proof's
source department (the citizen's own request is the basis of the access, which is logged like
any other), then the source department issues the certificate under its own seal in three
forms of the same content (`exchange.certificates`): the signed credential (JWS), the PDF
with the visible seal, the QR code and the embedded credential (PAdES), and the QR payload.

Issuing runs in named steps of a `UnitOfWork`: the pull (logged and committed before the source
is asked), `allocate` (the issuer's next serial from its counter and the next status-list entry, in
the certificates' current list or in the next one, opened when that one is full, and signed in
the same transaction when it is opened; committed at once so no lock is held while the certificate
is signed), rendering and signing outside any transaction, and `store`. A process that dies between steps leaves an unused serial, never a
duplicate one, and never an unlogged pull. A holder's `Idempotency-Key` is completed in the `store`
step itself: a certificate is never stored without it, so a retry after the process died returns
the certificate, or issues the one that was never stored.

Revocation is the issuing department's: it marks the certificate and signs the status list holding
its entry again in the same transaction, under that list's lock (`exchange.status_lists`); the
other lists are not touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.citizen_id import mask_free_text
from catalog.model import Catalog, Mode, Proof, Subject
from core.canonical import canonical_sha256
from exchange.access_log import AccessEntry, Outcome
from exchange.answer_store import claimed, complete, stored_answer
from exchange.certificate_records import CertificateForms, CertificateStatus, IssuedCertificate, seal_forms
from exchange.asserted_facts import FactNotEstablished, ensure_fact_holds
from exchange.certificates.credential import sign_credential
from exchange.certificates.model import StatusEntry, build_content
from exchange.certificates.record_backing import unbacked
from exchange.certificates.qr_payload import encode_qr
from exchange.certificates.status_list import REVOCATION_REASONS
from exchange.counters import next_value
from exchange.errors import GlyphsMissing, InvalidInput, NotFound
from exchange.keyring import RecordCipher
from exchange.licenses.service import version_in_force
from exchange.operation_codes import Operation
from exchange.operations import Actor, record_operation, revocation_detail
from exchange.pull_service import PullContext, PullRefused, pull_logged
from exchange.sources.contract import PULLED_MODES
from exchange.status_lists import (
    CERTIFICATES,
    ListEntry,
    StatusListKind,
    StatusListSigning,
    allocate_entry,
    lock_status_list,
    rebuild_status_list,
    sign_locked_list,
)
from exchange.subjects import subject_key
from seals.fonts import missing_glyphs
from seals.registry import active_signer, hold_signing_seal

OWN_REQUEST_BASIS = "本人申请开具电子证明"
COUNTER_BASIS = "窗口工作人员受本人委托开具电子证明"
"""The basis logged when a counter operator issues on the citizen's behalf (`counter_operator`)."""


class NotIssuable(InvalidInput):
    """The proof is not one a citizen can have issued online."""


class CertificateNotFound(NotFound):
    """No such certificate (or not the caller's)."""


@dataclass(frozen=True, kw_only=True)
class IssuanceContext(PullContext):
    """The exchange's pull context (issuing pulls the holder's record like any exchange request)
    and the status list every certificate gets an entry in."""

    status_list: StatusListSigning
    forms: RecordCipher
    """Seals the certificates' forms (the keyring's certificate-forms cipher)."""
    certificate_lists: StatusListKind = CERTIFICATES
    """The certificates' status lists (another `capacity` only where an installation's lists are set up so)."""


def issuable_proofs(catalog: Catalog) -> list[Proof]:
    """Proofs a person can have issued about themself, whose data the exchange can pull; those
    issued online first."""
    candidates = [p for p in catalog.proofs.values()
                  if p.subject is Subject.PERSON and p.mode in PULLED_MODES and p.issued_to_subject]
    return sorted(candidates, key=lambda proof: proof.mode is not Mode.ONLINE_ISSUE)


def issue_certificate(context: IssuanceContext, holder_name: str, id_number: str, proof_code: str,
                      purpose: str, *, idempotency_key: str | None = None,
                      counter_operator: str | None = None) -> IssuedCertificate:
    """`issued_or_replayed`, without saying which."""
    return issued_or_replayed(context, holder_name, id_number, proof_code, purpose, idempotency_key=idempotency_key,
                              counter_operator=counter_operator)[0]


def issued_or_replayed(context: IssuanceContext, holder_name: str, id_number: str, proof_code: str,
                       purpose: str, *, idempotency_key: str | None = None,
                       counter_operator: str | None = None) -> tuple[IssuedCertificate, bool]:
    """Pull the holder's record and issue the certificate in its three forms (see the module); the
    certificate, and whether it is the one an earlier use of `idempotency_key` issued.

    `counter_operator`: who at a service window issues it on the holder's behalf; the access log
    then names them (`counter:<operator>`) and the basis `COUNTER_BASIS`, not the holder's own request.

    With `idempotency_key` the holder's repetition of the same request returns the certificate
    issued first, through the exchange's one reserve-claim-replay mechanism (`answer_store`):
    `RequestIdConflict` for the key with other content, or while its first use is running, or
    (`ReservationLost`) when this use ran past `STALE_AFTER` and a retry took the key over.
    `PullRefused` (subject-not-found, source-unavailable) when the source gives no record;
    `FactNotEstablished` when the record contradicts what the proof's title asserts."""
    proof = next((p for p in issuable_proofs(context.catalog) if p.code == proof_code), None)
    if proof is None:
        raise NotIssuable("proof", f"{proof_code} cannot be issued online as an e-certificate")
    _ensure_printable(holder_name, purpose)
    purpose = mask_free_text(purpose)  # a number typed into it is someone's: sealed masked, as the log keeps it
    key = subject_key(context.subject_hash_key, id_number)
    requested = AccessEntry(
        outcome=Outcome.ALLOWED, consumer_department=proof.department, proof=proof.code, subject_key=key,
        purpose=purpose, legal_basis=OWN_REQUEST_BASIS if counter_operator is None else COUNTER_BASIS,
        caseworker_id=None if counter_operator is None else f"counter:{counter_operator}")
    if idempotency_key is None:
        return _issue(context, proof, requested, holder_name, id_number, purpose), False
    uow, owner, now = context.uow, f"holder:{key}", context.clock()
    request_sha256 = canonical_sha256({"proof": proof.code, "purpose": purpose, "name": holder_name})
    with uow.read() as session:
        replay = stored_answer(session, context.answers, owner, idempotency_key, request_sha256, now)
        if replay is not None:
            return find_certificate(session, replay.body["identifier"]), True

    def completed(session: Session, certificate: IssuedCertificate) -> None:  # stored with it, or neither
        complete(session, context.answers, owner, idempotency_key, {"identifier": certificate.identifier},
                 context.clock(), claimed_at=now)

    with claimed(uow, owner, idempotency_key, request_sha256, now):
        return _issue(context, proof, requested, holder_name, id_number, purpose, alongside=completed), False


def _allocate(context: IssuanceContext, proof: Proof) -> tuple[int, ListEntry]:
    """The certificate's serial number and status entry, committed before anything is signed. A
    list the entry opens is signed in the same transaction: no list is ever there unsigned, so
    verifiers can fetch it at once, whatever happens to this process next."""
    with context.uow.step("allocate") as session:
        serial = next_value(session, f"certificate-serial:{proof.department}")
        entry = allocate_entry(session, context.certificate_lists)
        if entry.opened:
            rebuild_status_list(session, CERTIFICATES, entry.list_id, context.status_list, context.clock())
    return serial, entry


def _ensure_printable(holder_name: str, purpose: str) -> None:
    """Refuse, before anything is pulled, a purpose (`InvalidInput`) or a holder's name
    (`GlyphsMissing`) with characters the certificate's face cannot print."""
    if missing := missing_glyphs(purpose):
        raise InvalidInput("purpose", f"has characters the certificate cannot print: {''.join(sorted(missing))}")
    if missing := missing_glyphs(holder_name):
        raise GlyphsMissing("certificate", missing)


LICENSE_READS = 3
"""How many times a certificate is read again from a license that changed while it was being issued."""
LICENSE_CHANGING = "license-changing"
"""The `PullRefused.reason` when it changed each time: a conflict, to try again shortly."""


class _LicenseChanged(Exception):
    """The license a certificate was read from was amended or revoked before the certificate was stored."""


def _issue(context: IssuanceContext, proof: Proof, requested: AccessEntry, holder_name: str, id_number: str,
           purpose: str, alongside: Callable[[Session, IssuedCertificate], None] | None = None) -> IssuedCertificate:
    """Pull (logged as `requested`), allocate, sign and store the certificate; `alongside(session,
    certificate)` runs in the step that stores it (its idempotency key completed in the same commit).
    A certificate read from a license is stored only while that version is the license's current
    one, under the license's lock: an amendment or revocation committed after it was read revoked
    only the certificates stored before, so it is read again (up to `LICENSE_READS` times)."""
    for _read in range(LICENSE_READS):
        try:
            return _issue_once(context, proof, requested, holder_name, id_number, purpose, alongside)
        except _LicenseChanged:
            continue
    raise PullRefused("conflict", f"the license {proof.code} is read from kept changing while it was read",
                      retry_after=5, reason=LICENSE_CHANGING, outcome=Outcome.FAILED)


def _issue_once(context: IssuanceContext, proof: Proof, requested: AccessEntry, holder_name: str, id_number: str,
                purpose: str, alongside: Callable[[Session, IssuedCertificate], None] | None) -> IssuedCertificate:
    from exchange.certificates.pdf import issue_pdf  # the PDF stack (reportlab, pyHanko) loads on first use

    key = requested.subject_key
    assert key is not None
    pulled = pull_logged(context.sessions, context.sources, requested, proof.code, id_number, holder_name)
    _ensure_backed(context, proof, pulled.record, holder_name)
    ensure_fact_holds(context.catalog, proof, pulled.record)
    uow = context.uow
    serial, entry = _allocate(context, proof)
    now = context.clock()
    content = build_content(
        proof=proof, department=context.catalog.departments[proof.department], holder_name=holder_name,
        id_number=id_number, data=pulled.record, purpose=purpose, serial=serial,
        status=StatusEntry(context.status_list.url(entry.list_id), entry.index), issued_at=now, searched_at=pulled.as_of)
    with uow.read() as session:
        signer = active_signer(session, context.seal_settings, proof.department)
    credential = sign_credential(content, signer)
    qr_payload = encode_qr(content, signer)
    source = pulled.provenance["license"] if pulled.provenance else None
    pdf = issue_pdf(content, credential, qr_payload, signer, tsa_url=context.seal_settings.tsa_url,
                    read_from_license=source is not None)
    with uow.step("store") as session:
        # the license's lock first, in the order a change of the license takes the two
        if source is not None and not version_in_force(session, source):
            raise _LicenseChanged(source)
        hold_signing_seal(session, signer, proof.department)
        certificate = IssuedCertificate(
            identifier=content.identifier, proof_code=proof.code, issuer_department=proof.department, serial=serial,
            holder_key=key, purpose=purpose, issued_at=content.issued_at, valid_until=content.valid_until,
            status_list=entry.list_id, status_index=entry.index, status=CertificateStatus.VALID,
            source_license=source,
            forms_sealed=seal_forms(context.forms, content.identifier, CertificateForms(credential, qr_payload, pdf)))
        session.add(certificate)
        if alongside is not None:
            alongside(session, certificate)
    return certificate


def _ensure_backed(context: IssuanceContext, proof: Proof, record: Mapping[str, Any], holder_name: str) -> None:
    """`FactNotEstablished` (no alternative offered) when the record cannot back the certificate
    (`record_backing.unbacked`): the holder reads why, and where to have the record seen to."""
    if reason := unbacked(proof, record, holder_name, context.clock()):
        department = context.catalog.departments[proof.department].name_zh
        raise FactNotEstablished(proof, f"{department}的{reason}，不能据此出具{proof.name_zh}。"
                                        f"请到{department}窗口核实。", None)


def holder_certificates(session: Session, hash_key: bytes, id_number: str) -> list[IssuedCertificate]:
    """The holder's certificates, newest first."""
    key = subject_key(hash_key, id_number)
    return list(session.scalars(select(IssuedCertificate).where(IssuedCertificate.holder_key == key)
                                .order_by(IssuedCertificate.issued_at.desc(), IssuedCertificate.id.desc())))


def held_certificate(session: Session, hash_key: bytes, id_number: str, identifier: str) -> IssuedCertificate:
    """The certificate `identifier` if the person with `id_number` holds it; `CertificateNotFound`
    otherwise, the same for someone else's certificate as for none, so nothing is revealed."""
    certificate = find_certificate(session, identifier)
    if certificate.holder_key != subject_key(hash_key, id_number):
        raise CertificateNotFound(f"no certificate {identifier}")
    return certificate


def list_certificates(session: Session, department: str | None = None) -> list[IssuedCertificate]:
    """Every certificate (or those `department` issued), newest first."""
    query = select(IssuedCertificate).order_by(IssuedCertificate.issued_at.desc(), IssuedCertificate.id.desc())
    if department is not None:
        query = query.where(IssuedCertificate.issuer_department == department)
    return list(session.scalars(query))


def find_certificate(session: Session, identifier: str) -> IssuedCertificate:
    found = session.scalars(select(IssuedCertificate).where(IssuedCertificate.identifier == identifier)
                            .execution_options(populate_existing=True)).first()
    if found is None:
        raise CertificateNotFound(f"no certificate {identifier}")
    return found


def revoke_certificate(session: Session, signing: StatusListSigning, identifier: str, department: str, reason: str,
                       now: datetime, actor: Actor) -> IssuedCertificate:
    """Revoke a certificate of `department` (only the issuer may) and sign its status list again,
    under that list's lock (see `exchange.status_lists`); the revocation by `actor` is an entry of
    the access log's chain (not a repeated one). The caller commits."""
    if reason not in REVOCATION_REASONS:
        raise InvalidInput("reason", f"one of {', '.join(REVOCATION_REASONS)}")
    list_id = find_certificate(session, identifier).status_list  # never changes: safe to read before the lock
    lock_status_list(session, CERTIFICATES, list_id)
    certificate = find_certificate(session, identifier)
    if certificate.issuer_department != department:
        raise CertificateNotFound(f"no certificate {identifier}")  # as for none: nothing says it exists
    if certificate.status == CertificateStatus.REVOKED:
        return certificate
    certificate.status = CertificateStatus.REVOKED
    certificate.revoked_at = now
    certificate.revocation_reason = reason
    session.flush()
    sign_locked_list(session, CERTIFICATES, list_id, signing, now)
    record_operation(session, Operation.CERTIFICATE_REVOKED, actor, identifier, department=department,
                     detail=revocation_detail(reason, certificate.status_list, certificate.status_index))
    return certificate
