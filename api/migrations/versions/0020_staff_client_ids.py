"""`client_id` of `applications`, `tenancies` and `license_usages` holds 128 characters (as the
answer store and the access log do): a staff member acting for their department is kept as
`staff:<department>:<工号>` (exchange/staff.py), since a 工号 is only unique within its department.
Rows kept before as `staff:<工号>` stay as they are; their department is in the row.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

_TABLES = ('applications', 'tenancies', 'license_usages')


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('client_id', existing_type=sa.String(length=32), type_=sa.String(length=128),
                               existing_nullable=False)


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('client_id', existing_type=sa.String(length=128), type_=sa.String(length=32),
                               existing_nullable=False)
