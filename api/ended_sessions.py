"""Sessions ended before their time, a staff member's or a citizen's: the sign-outs the server remembers.

A session is the identity provider's assertion kept in a cookie (`api.staff_session`; a
citizen's portal cookie, `api.auth`), valid until the assertion expires (at most an hour).
Deleting the cookie on sign-out is not enough: a copy of it (another tab's, a proxy's log, a
shared machine's browser profile) would still act for the person. So signing out records the
assertion's SHA-256 here with the time the assertion expires (`end_session`, a unique claim:
signing out twice changes nothing), and `load_staff_session` and `api.auth.verified_assertion`
refuse an assertion recorded here (`session_ended`, one read by primary key on each request), as
does the hand-over of an ended assertion. Past its expiry an assertion is refused anyway, so the
jobs delete what expired (`sweep_ended_sessions`). The table keeps its first name,
`ended_staff_sessions`, for both.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Connection, String, bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.driver_reads import first_row
from core.orm import Base, UtcDateTime


class EndedSession(Base):
    """A signed-out session: its assertion's SHA-256 and when the assertion expires."""

    __tablename__ = "ended_staff_sessions"

    assertion_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


def _digest(assertion: str) -> str:
    return hashlib.sha256(assertion.encode("utf-8")).hexdigest()


def end_session(session: Session, assertion: str, expires_at: datetime) -> None:
    """Record the session of `assertion` as ended (the caller commits); ending it twice changes nothing."""
    try:
        with session.begin_nested():
            session.add(EndedSession(assertion_sha256=_digest(assertion), expires_at=expires_at))
            session.flush()
    except IntegrityError:
        pass  # ended before


def session_ended(connection: Connection, assertion: str) -> bool:
    """Whether the session of `assertion` was ended by signing out."""
    return first_row(connection, _ENDED, {"digest": _digest(assertion)}) is not None


_ENDED = select(EndedSession.assertion_sha256).where(EndedSession.assertion_sha256 == bindparam("digest"))


def sweep_ended_sessions(session: Session, now: datetime) -> int:
    """Delete what expired before `now` (such an assertion is refused anyway); how many."""
    return session.execute(delete(EndedSession).where(EndedSession.expires_at < now)).rowcount or 0
