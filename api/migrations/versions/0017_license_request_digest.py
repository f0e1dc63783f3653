"""`licenses.request_digest`: a keyed digest of the request that issued the license, so the same
`reference` sent again with another body is told apart from a retry (exchange/licenses/service.py).
Licenses issued before it have none and are not compared.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('licenses') as batch:
        batch.add_column(sa.Column('request_digest', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('licenses') as batch:
        batch.drop_column('request_digest')
