"""Several status lists per kind: certificates beyond the 131,072 entries of list 1.

- `status_lists.kind`, `status_lists.ordinal`: which family a list belongs to and its place in it
  (unique together); list 1 is the certificates' first, list 2 the licenses' first;
- `certificates.status_list`: the number of the list holding a certificate's entry (1 for every
  certificate issued before), unique with `status_index` instead of the index alone; an index on
  (list, status) so signing one list reads only its revoked certificates.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('status_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('ordinal', sa.Integer(), nullable=True))
    op.execute("UPDATE status_lists SET kind = CASE id WHEN 1 THEN 'certificates' ELSE 'licenses' END, ordinal = 0")
    with op.batch_alter_table('status_lists', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('ordinal', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('uq_status_lists_kind_ordinal', ['kind', 'ordinal'])

    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_list', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.alter_column('status_list', existing_type=sa.Integer(), server_default=None)
        batch_op.drop_constraint('uq_certificates_status_index', type_='unique')
        batch_op.create_unique_constraint('uq_certificates_status_entry', ['status_list', 'status_index'])
        batch_op.create_index('ix_certificates_status_list_status', ['status_list', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_status_list_status')
        batch_op.drop_constraint('uq_certificates_status_entry', type_='unique')
        batch_op.create_unique_constraint('uq_certificates_status_index', ['status_index'])
        batch_op.drop_column('status_list')
    with op.batch_alter_table('status_lists', schema=None) as batch_op:
        batch_op.drop_constraint('uq_status_lists_kind_ordinal', type_='unique')
        batch_op.drop_column('ordinal')
        batch_op.drop_column('kind')
