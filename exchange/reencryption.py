"""Moving sealed personal data to the keyring's current key, so an old key can be retired.

`SEALED_VALUES` names every sealed value in the schema: its model, its name (the columns
`<name>_key_id` and `<name>_sealed`), the purpose it is sealed for and what it is bound to.
`reencrypt` re-seals, in batches of one transaction each, every value stored under another
key than the current one; each row is replaced by a compare-and-set on its key id and
ciphertext, so a value rewritten meanwhile is left to that writer and nothing is lost. A run
that stops is resumed by running it again: only rows not yet under the current key are read.
`values_under` counts what each key still holds (a key can be retired once it holds nothing).
Certificates issued before their forms were sealed are sealed by the same run (`seal_clear_certificates`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.orm import Base
from exchange.answer_store import AnsweredRequest, answer_bound_to
from exchange.applications.context import application_bound
from exchange.applications.recheck import decision_bound
from exchange.applications.recheck_records import RecheckResult, Tenancy
from exchange.applications.records import Application, ApplicationItem, CommitmentRecord, InvestigationTask
from exchange.applications.resolution import item_bound
from exchange.certificate_records import IssuedCertificate, certificate_forms, forms_bound, seal_forms
from exchange.keyring import Keyring, Purpose, Sealed
from exchange.licenses.records import LicensePresentation, LicenseVersionRecord

BATCH = 200
"""Rows re-sealed per transaction."""


@dataclass(frozen=True)
class SealedValue:
    """One sealed value of the schema and how to open it."""

    model: type[Base]
    name: str
    purpose: Purpose
    bound_to: Callable[[Any], str]

    @property
    def label(self) -> str:
        return f"{self.model.__tablename__}.{self.name}"

    def key_id_column(self) -> Any:
        return getattr(self.model, f"{self.name}_key_id")

    def blob_column(self) -> Any:
        return getattr(self.model, f"{self.name}_blob")


SEALED_VALUES = (
    SealedValue(AnsweredRequest, "answer", Purpose.EXCHANGE_ANSWERS, lambda r: answer_bound_to(r.client_id, r.request_id)),
    SealedValue(Application, "parties", Purpose.APPLICATION_DATA, lambda r: application_bound(r.id)),
    SealedValue(Application, "offers", Purpose.APPLICATION_DATA, lambda r: application_bound(r.id)),
    SealedValue(Application, "decision", Purpose.APPLICATION_DATA, lambda r: application_bound(f"decision\n{r.id}")),
    SealedValue(ApplicationItem, "values", Purpose.APPLICATION_DATA, lambda r: application_bound(item_bound(r))),
    SealedValue(CommitmentRecord, "token", Purpose.APPLICATION_DATA, lambda r: application_bound(f"commitment\n{r.id}")),
    SealedValue(InvestigationTask, "result", Purpose.APPLICATION_DATA, lambda r: application_bound(f"task\n{r.id}")),
    SealedValue(Tenancy, "parties", Purpose.APPLICATION_DATA, lambda r: application_bound(r.id)),
    SealedValue(RecheckResult, "decision", Purpose.APPLICATION_DATA,
                lambda r: application_bound(decision_bound(r.run_id, r.tenancy_id))),
    SealedValue(LicenseVersionRecord, "credential", Purpose.LICENSE_DATA, lambda r: r.identifier),
    SealedValue(LicensePresentation, "presentation", Purpose.LICENSE_DATA, lambda r: r.reference),
    SealedValue(IssuedCertificate, "forms", Purpose.CERTIFICATE_FORMS, lambda r: forms_bound(r.identifier)),
)


def values_under(session: Session) -> Counter[int]:
    """How many sealed values each key id holds, over the whole schema."""
    counts: Counter[int] = Counter()
    for value in SEALED_VALUES:
        key_id = value.key_id_column()
        for found, count in session.execute(select(key_id, func.count()).where(key_id.is_not(None)).group_by(key_id)):
            counts[found] += count
    return counts


def reencrypt(sessions: sessionmaker[Session], keyring: Keyring, batch: int = BATCH) -> Iterator[tuple[str, int]]:
    """Re-seal every value not under the current key; yields (value label, rows re-sealed) per
    batch as it commits. `KeyNotInKeyring` if a value's key is no longer in the keyring."""
    yield from seal_clear_certificates(sessions, keyring, batch)
    for value in SEALED_VALUES:
        cipher = keyring.cipher(value.purpose)
        key_id, blob = value.key_id_column(), value.blob_column()
        (primary_key,) = value.model.__mapper__.primary_key
        after = None
        while True:
            with sessions.begin() as session:
                query = select(value.model).where(key_id != keyring.current_id, key_id.is_not(None))
                if after is not None:
                    query = query.where(primary_key > after)
                rows = session.scalars(query.order_by(primary_key).limit(batch)).all()
                if not rows:
                    break
                done = 0
                for row in rows:
                    sealed: Sealed = getattr(row, f"{value.name}_sealed")
                    fresh = cipher.reseal(sealed, value.bound_to(row))
                    done += session.execute(
                        update(value.model.__table__)
                        .where(primary_key == getattr(row, primary_key.key), key_id.expression == sealed.key_id,
                               blob.expression == sealed.blob)
                        .values({key_id.expression: fresh.key_id, blob.expression: fresh.blob})).rowcount
                after = getattr(rows[-1], primary_key.key)
            yield value.label, done


def seal_clear_certificates(sessions: sessionmaker[Session], keyring: Keyring,
                            batch: int = BATCH) -> Iterator[tuple[str, int]]:
    """Seal the forms of the certificates stored in the clear (issued before forms were sealed)
    under the current key and clear those columns, a batch per transaction; yields
    ("certificates.forms", rows sealed) per batch. Each row is a compare-and-set on its having no
    sealed forms yet, so two runs at once seal it once."""
    box, table = keyring.cipher(Purpose.CERTIFICATE_FORMS), IssuedCertificate.__table__
    while True:
        with sessions.begin() as session:
            rows = session.scalars(select(IssuedCertificate).where(
                IssuedCertificate.forms_key_id.is_(None), IssuedCertificate.credential.is_not(None))
                .order_by(IssuedCertificate.id).limit(batch)).all()
            if not rows:
                return
            done = 0
            for row in rows:
                sealed = seal_forms(box, row.identifier, certificate_forms(box, row))
                done += session.execute(
                    update(table).where(table.c.id == row.id, table.c.forms_key_id.is_(None))
                    .values(forms_key_id=sealed.key_id, forms_sealed=sealed.blob, credential=None, qr_payload=None,
                            pdf=None)).rowcount
        yield "certificates.forms", done
