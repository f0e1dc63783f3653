"""`consents.items`: the data items a consent releases, by the code it names (a proof, or a
license type answering none), as its preview listed them when it was given: a later publication
that has the matter receive more does not release more under it. Consents given before keep
none and cover what the matter receives.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('consents') as batch:
        batch.add_column(sa.Column('items', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consents') as batch:
        batch.drop_column('items')
