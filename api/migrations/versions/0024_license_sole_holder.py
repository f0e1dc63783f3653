"""`licenses.sole_holder_key`: for a license type a holder has one of at most (`one_per_holder`,
the 营业执照), the holder's key while the license is not revoked, under a unique constraint with the
type. Licenses issued before keep none (a holder who already has two keeps them).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('licenses') as batch:
        batch.add_column(sa.Column('sole_holder_key', sa.String(length=64), nullable=True))
        batch.create_unique_constraint('uq_licenses_type_sole_holder', ['license_type', 'sole_holder_key'])


def downgrade() -> None:
    with op.batch_alter_table('licenses') as batch:
        batch.drop_constraint('uq_licenses_type_sole_holder', type_='unique')
        batch.drop_column('sole_holder_key')
