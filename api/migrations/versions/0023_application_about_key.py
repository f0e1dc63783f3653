"""`applications.about_key`: the keyed hash of the child or deceased person an application is
about (None for matters about no one but the applicant), so that another application about the
same one is found whoever files it (the other parent). Applications before keep none; theirs are
still found through their applicant.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.add_column(sa.Column('about_key', sa.String(length=64), nullable=True))
        batch.create_index('ix_applications_about_key', ['about_key'])


def downgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.drop_index('ix_applications_about_key')
        batch.drop_column('about_key')
