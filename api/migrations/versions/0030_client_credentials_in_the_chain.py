"""A department system's credentials in the access log's chain: from here on its registration's
and its rotations' entries record its scopes and the hashes of the secrets that work
(`exchange.clients.credentials_detail`), and a token is taken only as the newest such entry has
them. Each system not revoked gets an entry of `client-credentials-chained` recording what its row
holds now, appended at the time of the upgrade with no operator; earlier entries recorded its
scopes alone. A revoked system needs none: it is refused whatever its row says.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session


revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from core.orm import UtcDateTime
    from exchange.clients import credentials_detail
    from exchange.operation_codes import Operation
    from exchange.operations import Actor, record_operation

    clients = sa.table('exchange_clients', sa.column('public_id'), sa.column('department_code'), sa.column('scopes'),
                       sa.column('secret_hash'), sa.column('previous_secret_hash'),
                       sa.column('previous_secret_expires_at', UtcDateTime()), sa.column('revoked_at'))
    session = Session(bind=op.get_bind())  # in the migration's transaction
    for client in session.execute(sa.select(clients).where(clients.c.revoked_at.is_(None))
                                  .order_by(clients.c.public_id)).all():
        record_operation(session, Operation.CLIENT_CREDENTIALS_CHAINED, Actor(), client.public_id,
                         department=client.department_code, detail=credentials_detail(client))


def downgrade() -> None:
    """The entries stay: the chain is append-only, and the older release reads them as operations."""
