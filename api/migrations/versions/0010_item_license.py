"""The license a proof item was settled from: the identifier of the license version whose
items the exchange answered with (a proof handled as an e-license), for the decision's provenance.

Revision ID: 0010_item_license
Revises: 0009
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_item_license'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('application_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('license', sa.String(length=160), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('application_items', schema=None) as batch_op:
        batch_op.drop_column('license')
