"""Several license status lists: license versions beyond the 1,048,576 entries of list 2.

- `license_versions.status_list`: the number of the list holding a version's entry (2 for every
  version issued before), unique with `status_index` instead of the index alone; an index on
  (list, status) so signing one list reads only its revoked and superseded versions.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('license_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_list', sa.Integer(), nullable=False, server_default='2'))
    with op.batch_alter_table('license_versions', schema=None) as batch_op:
        batch_op.alter_column('status_list', existing_type=sa.Integer(), server_default=None)
        batch_op.drop_constraint('uq_license_versions_status_index', type_='unique')
        batch_op.create_unique_constraint('uq_license_versions_status_entry', ['status_list', 'status_index'])
        batch_op.create_index('ix_license_versions_status_list_status', ['status_list', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('license_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_license_versions_status_list_status')
        batch_op.drop_constraint('uq_license_versions_status_entry', type_='unique')
        batch_op.create_unique_constraint('uq_license_versions_status_index', ['status_index'])
        batch_op.drop_column('status_list')
