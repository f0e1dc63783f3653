"""Operations in the access log's chain: the partial index `ix_access_log_operations` over the
entries that record an operator's or a department system's change (outcome `operation`, by
operation and what it changed), then each catalog version already kept gets its publication's
entry, on what its row holds now, and each department system its registration's entry (and its
revocation's, if revoked), appended at the time of the upgrade with no operator (the chain
records when it learnt of them; the rows keep their own times). From here on a department
system's token is taken only with its registration's entry, and `mianzheng audit verify`
compares every version's row with its entry (`exchange.operations`).

The entries are written by the exchange's own code (`exchange.operations.publication_detail`,
`exchange.operations.record_operation`): the chain's format is the one the log verifies.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

_OPERATIONS = sa.text("outcome = 'operation'")


def upgrade() -> None:
    op.create_index('ix_access_log_operations', 'access_log', ['reason', 'case_number'],
                    sqlite_where=_OPERATIONS, postgresql_where=_OPERATIONS)
    _chain_the_catalog_versions_kept()
    _chain_the_clients_kept()


def downgrade() -> None:
    op.drop_index('ix_access_log_operations', table_name='access_log',
                  sqlite_where=_OPERATIONS, postgresql_where=_OPERATIONS)


def _chain_the_clients_kept() -> None:
    from exchange.operation_codes import Operation
    from exchange.operations import Actor, record_operation

    clients = sa.table('exchange_clients', *(sa.column(name) for name in ('public_id', 'department_code', 'scopes',
                                                                          'revoked_at')))
    session = Session(bind=op.get_bind())
    for client in session.execute(sa.select(clients).order_by(clients.c.public_id)).all():
        record_operation(session, Operation.CLIENT_ADDED, Actor(), client.public_id,
                         department=client.department_code, detail=client.scopes)
        if client.revoked_at is not None:
            record_operation(session, Operation.CLIENT_REVOKED, Actor(), client.public_id,
                             department=client.department_code)


def _chain_the_catalog_versions_kept() -> None:
    from exchange.operation_codes import Operation
    from exchange.operations import Actor, publication_detail, record_operation

    versions = sa.table('catalog_versions', *(sa.column(name) for name in ('number', 'content_hash', 'published_by',
                                                                           'note')))
    session = Session(bind=op.get_bind())  # in the migration's transaction
    for version in session.execute(sa.select(versions).order_by(versions.c.number)):
        record_operation(session, Operation.CATALOG_PUBLISHED, Actor(), str(version.number),
                         detail=publication_detail(version.content_hash, version.published_by, version.note))
