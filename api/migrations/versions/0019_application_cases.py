"""`application_cases`: the unique claim of (consumer department, matter, case number), so a case
filed again under a new request id is refused instead of becoming a second application
(exchange/applications/service.py). Applications filed before claim their case here; where one
case was filed more than once before, its earliest application holds the claim and the others
stay as they are.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'application_cases',
        sa.Column('consumer_department', sa.String(length=64), nullable=False),
        sa.Column('matter', sa.String(length=64), nullable=False),
        sa.Column('case_number', sa.String(length=64), nullable=False),
        sa.Column('application_id', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id']),
        sa.PrimaryKeyConstraint('consumer_department', 'matter', 'case_number'),
    )
    op.execute(
        "INSERT INTO application_cases (consumer_department, matter, case_number, application_id) "
        "SELECT a.consumer_department, a.matter, a.case_number, "
        "(SELECT b.id FROM applications b WHERE b.consumer_department = a.consumer_department "
        "AND b.matter = a.matter AND b.case_number = a.case_number ORDER BY b.created_at, b.id LIMIT 1) "
        "FROM applications a GROUP BY a.consumer_department, a.matter, a.case_number")


def downgrade() -> None:
    op.drop_table('application_cases')
