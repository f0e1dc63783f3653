"""Drop the three plain indexes whose column leads a unique index of the same table:
`application_items.application_id`, `license_versions.license_id` and `recheck_results.run_id`.
Every lookup by that column (and the foreign key's checks) uses the unique index; the plain one
only cost a second index write per row.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_COVERED = (
    ('application_items', 'application_id'),
    ('license_versions', 'license_id'),
    ('recheck_results', 'run_id'),
)


def upgrade() -> None:
    for table, column in _COVERED:
        op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)


def downgrade() -> None:
    for table, column in _COVERED:
        op.create_index(op.f(f'ix_{table}_{column}'), table, [column], unique=False)
