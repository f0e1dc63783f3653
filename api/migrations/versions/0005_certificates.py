"""Issued e-certificates (three forms each) and the city's certificate status list.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=160), nullable=False),
    sa.Column('proof_code', sa.String(length=64), nullable=False),
    sa.Column('issuer_department', sa.String(length=64), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('holder_key', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_index', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.String(length=32), nullable=True),
    sa.Column('credential', sa.Text(), nullable=False),
    sa.Column('qr_payload', sa.Text(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('identifier', name=op.f('uq_certificates_identifier')),
    sa.UniqueConstraint('issuer_department', 'serial', name='uq_certificates_issuer_serial'),
    sa.UniqueConstraint('status_index', name=op.f('uq_certificates_status_index'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_holder_key'), ['holder_key'], unique=False)

    op.create_table('status_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bits', sa.LargeBinary(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('token', sa.Text(), nullable=True),
    sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_lists'))
    )


def downgrade() -> None:
    op.drop_table('status_lists')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_holder_key'))

    op.drop_table('certificates')
