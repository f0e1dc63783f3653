"""`setup_steps`: the set-up steps of `mianzheng init` done once per version of their inputs
(api/setup_steps.py), so a later start skips them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('setup_steps',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=128), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_setup_steps'))
    )


def downgrade() -> None:
    op.drop_table('setup_steps')
