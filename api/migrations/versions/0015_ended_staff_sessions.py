"""`ended_staff_sessions`: staff sessions signed out before their assertion expired
(api/ended_sessions.py), so a copy of the cookie acts for nobody afterwards.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ended_staff_sessions',
    sa.Column('assertion_sha256', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('assertion_sha256', name=op.f('pk_ended_staff_sessions'))
    )


def downgrade() -> None:
    op.drop_table('ended_staff_sessions')
