"""Consents in the access log's chain: the partial index `ix_access_log_consent_events` over the
entries that record a consent's grant (outcome `granted`), withdrawal (`withdrawn`) or end with
its application (`ended`), which the exchange reads whenever it relies on a consent; then each
consent already kept gets its grant entry, on the terms its row holds now (an application's
consent already ended keeps its end as its expiry), and each one withdrawn its withdrawal
entry, appended at the time of the upgrade (the chain records when it learnt of them; the rows keep their own
times). From here on a consent counts only as the chain records it (`exchange.consent`).

The entries are written by the exchange's own code (`exchange.consent.consent_entries`,
`exchange.access_log.append_accesses`): the chain's format is the one the log verifies.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

_EVENTS = sa.text("outcome IN ('granted', 'withdrawn', 'ended')")


def upgrade() -> None:
    op.create_index('ix_access_log_consent_events', 'access_log', ['consent_id', 'subject_key'],
                    sqlite_where=_EVENTS, postgresql_where=_EVENTS)
    _chain_the_consents_kept()


def downgrade() -> None:
    op.drop_index('ix_access_log_consent_events', table_name='access_log',
                  sqlite_where=_EVENTS, postgresql_where=_EVENTS)


def _chain_the_consents_kept() -> None:
    from core.orm import UtcDateTime
    from exchange.access_log import Outcome, append_accesses
    from exchange.consent import consent_entries

    consents = sa.table('consents', *(sa.column(name) for name in (
        'id', 'subject_key', 'matter', 'consumer_department', 'channel', 'bound_client_id', 'application_id')),
        sa.column('proofs', sa.JSON()), sa.column('items', sa.JSON()), sa.column('granted_at', UtcDateTime()),
        sa.column('expires_at', UtcDateTime()), sa.column('withdrawn_at', UtcDateTime()))
    session = Session(bind=op.get_bind())  # in the migration's transaction
    kept = session.execute(sa.select(consents).order_by(consents.c.granted_at, consents.c.id)).all()
    append_accesses(session, consent_entries(kept, Outcome.GRANTED))
    append_accesses(session, consent_entries([row for row in kept if row.withdrawn_at is not None], Outcome.WITHDRAWN))
