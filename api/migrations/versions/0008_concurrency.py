"""Allocation, leases, consent binding and jobs heartbeats that hold under concurrency.

- `counters`: named atomic counters (certificate serials per issuer, status-list entries),
  seeded from the certificates already issued;
- `status_lists`: the bitstring and reasons are no longer stored (the list is derived from the
  certificates table whenever it is signed); each list gets a permutation key and a revision that
  revocations increment under the row lock;
- `applications.lease_holder`, `recheck_runs.lease_holder`: who holds a lease;
- `consents.bound_client_id`, `consents.application_id`: a counter consent is usable only by the
  system that recorded it, and ends with the application it was recorded for;
- `exchange_requests.consent_id`: a replayed answer is refused once its consent is withdrawn;
- `job_heartbeats`: the scheduled jobs' last pass, which readiness reports.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import os

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('counters',
    sa.Column('name', sa.String(length=96), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counters'))
    )
    op.execute("INSERT INTO counters (name, value) SELECT 'certificate-serial:' || issuer_department, MAX(serial) "
               "FROM certificates GROUP BY issuer_department")
    with op.batch_alter_table('status_lists', schema=None) as batch_op:
        batch_op.drop_column('bits')
        batch_op.drop_column('reasons')
        batch_op.add_column(sa.Column('index_key', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=False, server_default='0'))
    for (list_id,) in op.get_bind().execute(sa.text("SELECT id FROM status_lists")).all():
        op.get_bind().execute(sa.text("UPDATE status_lists SET index_key = :key, token_expires_at = NULL WHERE id = :id"),
                              {"key": os.urandom(16), "id": list_id})
    with op.batch_alter_table('status_lists', schema=None) as batch_op:
        batch_op.alter_column('index_key', existing_type=sa.LargeBinary(), nullable=False)

    for table in ('applications', 'recheck_runs'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('lease_holder', sa.String(length=64), nullable=True))
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bound_client_id', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('application_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_consents_application_id'), ['application_id'], unique=False)
    with op.batch_alter_table('exchange_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_id', sa.String(length=36), nullable=True))

    op.create_table('job_heartbeats',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('interval_seconds', sa.Float(), nullable=False),
    sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_heartbeats'))
    )


def downgrade() -> None:
    op.drop_table('job_heartbeats')
    with op.batch_alter_table('exchange_requests', schema=None) as batch_op:
        batch_op.drop_column('consent_id')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consents_application_id'))
        batch_op.drop_column('application_id')
        batch_op.drop_column('bound_client_id')
    for table in ('recheck_runs', 'applications'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('lease_holder')
    with op.batch_alter_table('status_lists', schema=None) as batch_op:
        batch_op.drop_column('revision')
        batch_op.drop_column('index_key')
        batch_op.add_column(sa.Column('reasons', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('bits', sa.LargeBinary(), nullable=False, server_default=''))
    op.drop_table('counters')
