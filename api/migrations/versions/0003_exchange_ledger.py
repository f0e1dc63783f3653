"""The exchange ledger: consumer systems (exchange_clients), citizens' consents and the
hash-chained access log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('client_id', sa.String(length=128), nullable=True),
    sa.Column('consumer_department', sa.String(length=64), nullable=True),
    sa.Column('caseworker_id', sa.String(length=128), nullable=True),
    sa.Column('case_number', sa.String(length=128), nullable=True),
    sa.Column('matter', sa.String(length=64), nullable=True),
    sa.Column('proof', sa.String(length=64), nullable=True),
    sa.Column('subject_key', sa.String(length=64), nullable=True),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('consent_id', sa.String(length=128), nullable=True),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_access_log')),
    sa.UniqueConstraint('entry_hash', name=op.f('uq_access_log_entry_hash'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_subject_key'), ['subject_key'], unique=False)

    op.create_table('consents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('subject_key', sa.String(length=64), nullable=False),
    sa.Column('matter', sa.String(length=64), nullable=False),
    sa.Column('proofs', sa.JSON(), nullable=False),
    sa.Column('consumer_department', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consents_subject_key'), ['subject_key'], unique=False)

    op.create_table('exchange_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=16), nullable=False),
    sa.Column('department_code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scopes', sa.String(length=255), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('previous_secret_hash', sa.String(length=64), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_clients')),
    sa.UniqueConstraint('public_id', name=op.f('uq_exchange_clients_public_id'))
    )
    with op.batch_alter_table('exchange_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_clients_department_code'), ['department_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('exchange_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_clients_department_code'))

    op.drop_table('exchange_clients')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consents_subject_key'))

    op.drop_table('consents')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_subject_key'))
        batch_op.drop_index(batch_op.f('ix_access_log_request_id'))

    op.drop_table('access_log')
