"""The annual re-check: tenancies (a matter's current beneficiary households), re-check runs
and one result per household and run.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recheck_runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('matter', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recheck_runs'))
    )
    with op.batch_alter_table('recheck_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recheck_runs_matter'), ['matter'], unique=False)
        batch_op.create_index(batch_op.f('ix_recheck_runs_started_at'), ['started_at'], unique=False)

    op.create_table('tenancies',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('matter', sa.String(length=64), nullable=False),
    sa.Column('handling_department', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=False),
    sa.Column('case_number', sa.String(length=64), nullable=False),
    sa.Column('head_key', sa.String(length=64), nullable=False),
    sa.Column('parties_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_outcome', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenancies'))
    )
    with op.batch_alter_table('tenancies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenancies_head_key'), ['head_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_tenancies_matter'), ['matter'], unique=False)
        batch_op.create_index(batch_op.f('ix_tenancies_status'), ['status'], unique=False)

    op.create_table('recheck_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('tenancy_id', sa.String(length=36), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('previous_outcome', sa.String(length=16), nullable=False),
    sa.Column('changed', sa.Boolean(), nullable=False),
    sa.Column('decision_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['recheck_runs.id'], name=op.f('fk_recheck_results_run_id_recheck_runs')),
    sa.ForeignKeyConstraint(['tenancy_id'], ['tenancies.id'], name=op.f('fk_recheck_results_tenancy_id_tenancies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recheck_results')),
    sa.UniqueConstraint('run_id', 'tenancy_id', name='uq_recheck_results_run_tenancy')
    )
    with op.batch_alter_table('recheck_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recheck_results_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('recheck_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recheck_results_run_id'))

    op.drop_table('recheck_results')
    with op.batch_alter_table('tenancies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenancies_status'))
        batch_op.drop_index(batch_op.f('ix_tenancies_matter'))
        batch_op.drop_index(batch_op.f('ix_tenancies_head_key'))

    op.drop_table('tenancies')
    with op.batch_alter_table('recheck_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recheck_runs_started_at'))
        batch_op.drop_index(batch_op.f('ix_recheck_runs_matter'))

    op.drop_table('recheck_runs')
