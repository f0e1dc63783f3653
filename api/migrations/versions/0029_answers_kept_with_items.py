"""An application's proofs keep the exchange's answer behind their values, with its signed
receipt, sealed as the values are (`application_items.answer_key_id`, `answer_sealed`), for
`GET /api/v1/applications/{id}/receipts/{receipt_id}`. Proofs pulled before keep none.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('application_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer_key_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('answer_sealed', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('application_items', schema=None) as batch_op:
        batch_op.drop_column('answer_sealed')
        batch_op.drop_column('answer_key_id')
