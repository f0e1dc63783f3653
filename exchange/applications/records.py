"""The tables of matter handling: applications, their proof items, commitments and the
investigation tasks handed to departments.

Personal data is kept sealed (AES-GCM, `exchange.keyring`, with the id of its key): the parties' ID
numbers and names, every pulled or committed value, the decision's provenance and the signed
commitment tokens. What stays in clear is what statistics and scheduling need: codes, states,
modes, departments and times, and subject keys (keyed hashes) for lookups.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, composite, mapped_column

from core.orm import Base, UtcDateTime
from exchange.keyring import Sealed, sealed_or_none


class ApplicationStatus(StrEnum):
    """Where an application is: resolving its proofs, waiting (for a source or a commitment), decided,
    or withdrawn by its department (from any of these; nothing resumes it)."""

    RESOLVING = "resolving"
    WAITING = "waiting"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"


class ItemState(StrEnum):
    """How far one proof of one party has got."""

    PENDING = "pending"
    """To be resolved."""
    RESOLVED = "resolved"
    """Data pulled from the source department (data sharing, online issue, e-license)."""
    NOT_FOUND = "not_found"
    """The source holds no record of this party: a true answer."""
    NOT_REQUIRED = "not_required"
    """The catalog's condition (`when`) is false for this application, or a publication has since
    taken the proof out of the matter while it was still awaited."""
    ABOLISHED = "abolished"
    """The proof is abolished for this matter: nothing to do."""
    COMMITTED = "committed"
    """The applicant's signed commitment stands in for the proof."""
    AWAITING_COMMITMENT = "awaiting_commitment"
    """A commitment is needed and the applicant has not signed it yet."""
    WAITING = "waiting"
    """The source cannot answer now; retried at `next_attempt_at`."""
    INVESTIGATING = "investigating"
    """Handed to a department for investigation (task open)."""
    INVESTIGATED = "investigated"
    """The department's investigation is done."""
    DENIED = "denied"
    """The exchange refused the pull (policy or consent); needs a caseworker."""

    @property
    def blocks_decision(self) -> bool:
        return self in (ItemState.PENDING, ItemState.WAITING, ItemState.AWAITING_COMMITMENT)


class CommitmentStatus(StrEnum):
    """事后核查 of a commitment."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    FALSE = "false"
    ON_SITE = "on_site"
    """No source can check it: the handling department checks on site."""


class Application(Base):
    """One application for one matter, filed by a consumer department's system."""

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("client_id", "request_id", name="uq_applications_client_request"),
        # each reader's index leads with what it is asked and holds the rest of its equalities or its order,
        # so no planner (SQLite's has no statistics) walks every application of a matter or a department:
        Index("ix_applications_applicant_key_matter", "applicant_key", "matter"),  # the household's other filings
        Index("ix_applications_about_key_matter", "about_key", "matter"),  # those about the same child
        Index("ix_applications_consumer_department_created_at", "consumer_department", "created_at"),  # newest first
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    matter: Mapped[str] = mapped_column(String(64), index=True)
    catalog_hash: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(128))
    consumer_department: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(128))
    request_sha256: Mapped[str] = mapped_column(String(64))
    caseworker_id: Mapped[str] = mapped_column(String(64))
    case_number: Mapped[str] = mapped_column(String(64))
    applicant_key: Mapped[str] = mapped_column(String(64))
    about_key: Mapped[str | None] = mapped_column(String(64))
    """The keyed hash of the child or deceased person the application is about, if any."""
    options: Mapped[dict[str, object]] = mapped_column(JSON)
    parties_key_id: Mapped[int] = mapped_column(Integer)
    parties_blob: Mapped[bytes] = mapped_column("parties_sealed", LargeBinary)
    parties_sealed: Mapped[Sealed] = composite(sealed_or_none, "parties_key_id", "parties_blob")
    offers_key_id: Mapped[int] = mapped_column(Integer)
    offers_blob: Mapped[bytes] = mapped_column("offers_sealed", LargeBinary)
    offers_sealed: Mapped[Sealed] = composite(sealed_or_none, "offers_key_id", "offers_blob")
    status: Mapped[str] = mapped_column(String(16), index=True)
    decision: Mapped[str | None] = mapped_column(String(16))
    priorities: Mapped[list[str]] = mapped_column(JSON, default=list)
    decision_key_id: Mapped[int | None] = mapped_column(Integer)
    decision_blob: Mapped[bytes | None] = mapped_column("decision_sealed", LargeBinary)
    decision_sealed: Mapped[Sealed | None] = composite(sealed_or_none, "decision_key_id", "decision_blob")
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lease_holder: Mapped[str | None] = mapped_column(String(64))
    """While a process resolves the application; another process leaves it alone until then."""
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(String(128))
    """The client id of the department system that withdrew it."""


class ApplicationCase(Base):
    """The unique claim of a department's case number for a matter: one application per case,
    whatever request id the department's system files it under (a retry after a timeout, two
    filings at once). Filed in the same step as its application."""

    __tablename__ = "application_cases"

    consumer_department: Mapped[str] = mapped_column(String(64), primary_key=True)
    matter: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"))


class ApplicationItem(Base):
    """One proof of one party of an application, and how it was resolved."""

    __tablename__ = "application_items"
    __table_args__ = (UniqueConstraint("application_id", "proof", "party", name="uq_application_items_proof_party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"))  # indexed by the unique one
    position: Mapped[int] = mapped_column(Integer)
    proof: Mapped[str] = mapped_column(String(64))
    party: Mapped[str] = mapped_column(String(32))
    """Whose proof: `applicant`, `member:<n>`, `child`, `deceased`, `employer`, or `-` when not required."""
    mode: Mapped[str] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(Text)
    values_key_id: Mapped[int | None] = mapped_column(Integer)
    values_blob: Mapped[bytes | None] = mapped_column("values_sealed", LargeBinary)
    values_sealed: Mapped[Sealed | None] = composite(sealed_or_none, "values_key_id", "values_blob")
    as_of: Mapped[datetime | None] = mapped_column(UtcDateTime())
    receipt_id: Mapped[str | None] = mapped_column(String(36))
    answer_key_id: Mapped[int | None] = mapped_column(Integer)
    answer_blob: Mapped[bytes | None] = mapped_column("answer_sealed", LargeBinary)
    answer_sealed: Mapped[Sealed | None] = composite(sealed_or_none, "answer_key_id", "answer_blob")
    """The exchange's answer the values came from with its signed receipt (`{"answer", "receipt"}`,
    as the exchange returned them), kept for as long as the application: what the department shows
    when asked what it was told (`item_answer`)."""
    license: Mapped[str | None] = mapped_column(String(160))
    """The identifier of the license version the values came from (a proof answered by the license library)."""
    commitment_id: Mapped[str | None] = mapped_column(String(36))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CommitmentRecord(Base):
    """A signed 告知承诺 that stands in for one proof of one party, and its 事后核查."""

    __tablename__ = "commitments"
    __table_args__ = (  # as `Application.__table_args__`: an application's (pending) ones; a department's, newest first
        Index("ix_commitments_application_id_status", "application_id", "status"),
        Index("ix_commitments_handling_department_signed_at", "handling_department", "signed_at"),
        Index("ix_commitments_handling_department_status_signed_at", "handling_department", "status", "signed_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("application_items.id"))
    matter: Mapped[str] = mapped_column(String(64))
    proof: Mapped[str] = mapped_column(String(64))
    handling_department: Mapped[str] = mapped_column(String(64))
    subject_key: Mapped[str] = mapped_column(String(64), index=True)
    fallback: Mapped[bool] = mapped_column(Boolean)
    """Taken because the source could not answer, rather than because the catalog says so."""
    channel: Mapped[str] = mapped_column(String(16))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    token_key_id: Mapped[int] = mapped_column(Integer)
    token_blob: Mapped[bytes] = mapped_column("token_sealed", LargeBinary)
    token_sealed: Mapped[Sealed] = composite(sealed_or_none, "token_key_id", "token_blob")
    status: Mapped[str] = mapped_column(String(16), index=True)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    verification_receipt_id: Mapped[str | None] = mapped_column(String(36))
    verification_detail: Mapped[str | None] = mapped_column(Text)
    verify_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_verify_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class InvestigationTask(Base):
    """A proof handed to its department for investigation (e.g. 入户调查 by the community)."""

    __tablename__ = "investigation_tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("application_items.id"))
    department: Mapped[str] = mapped_column(String(64), index=True)
    proof: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    result_key_id: Mapped[int | None] = mapped_column(Integer)
    result_blob: Mapped[bytes | None] = mapped_column("result_sealed", LargeBinary)
    result_sealed: Mapped[Sealed | None] = composite(sealed_or_none, "result_key_id", "result_blob")
