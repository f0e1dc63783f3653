"""Indexes that keep reading an application, a household's other filings and a department's
lists as cheap on the millionth application as on the first: each leads with what the reader
asks and holds the rest of its equalities or its order. With only `matter` or `status` to go on,
SQLite (which keeps no statistics) walked every application of the matter and every pending
commitment on each filing. The single-column indexes they extend are dropped: each new one
serves their readers by its first column.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

from alembic import op


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

_EXTENDED = [
    # (table, dropped single-column index, its column, the index replacing it, its columns)
    ('applications', 'ix_applications_applicant_key', 'applicant_key',
     'ix_applications_applicant_key_matter', ['applicant_key', 'matter']),
    ('applications', 'ix_applications_about_key', 'about_key',
     'ix_applications_about_key_matter', ['about_key', 'matter']),
    ('applications', 'ix_applications_consumer_department', 'consumer_department',
     'ix_applications_consumer_department_created_at', ['consumer_department', 'created_at']),
    ('commitments', 'ix_commitments_application_id', 'application_id',
     'ix_commitments_application_id_status', ['application_id', 'status']),
    ('commitments', 'ix_commitments_handling_department', 'handling_department',
     'ix_commitments_handling_department_signed_at', ['handling_department', 'signed_at']),
]


def upgrade() -> None:
    for table, dropped, _column, created, columns in _EXTENDED:
        op.create_index(created, table, columns)
        op.drop_index(dropped, table_name=table)
    op.create_index('ix_commitments_handling_department_status_signed_at', 'commitments',
                    ['handling_department', 'status', 'signed_at'])


def downgrade() -> None:
    op.drop_index('ix_commitments_handling_department_status_signed_at', table_name='commitments')
    for table, dropped, column, created, _columns in reversed(_EXTENDED):
        op.create_index(dropped, table, [column])
        op.drop_index(created, table_name=table)
