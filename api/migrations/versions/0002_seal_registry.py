"""The seal registry: the city CA (with its current CRL) and department seals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('seal_ca',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=512), nullable=False),
    sa.Column('serial_hex', sa.String(length=40), nullable=False),
    sa.Column('certificate_pem', sa.Text(), nullable=False),
    sa.Column('key_ref', sa.String(length=128), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('crl_number', sa.Integer(), nullable=False),
    sa.Column('crl_der', sa.LargeBinary(), nullable=True),
    sa.Column('crl_next_update', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seal_ca')),
    sa.UniqueConstraint('serial_hex', name=op.f('uq_seal_ca_serial_hex'))
    )
    op.create_table('seals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=64), nullable=False),
    sa.Column('department_name', sa.String(length=200), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('purpose_zh', sa.String(length=64), nullable=False),
    sa.Column('serial_hex', sa.String(length=40), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('certificate_pem', sa.Text(), nullable=False),
    sa.Column('key_ref', sa.String(length=128), nullable=False),
    sa.Column('status', sa.Enum('active', 'superseded', 'revoked', 'expired', name='seal_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seals')),
    sa.UniqueConstraint('kid', name=op.f('uq_seals_kid')),
    sa.UniqueConstraint('serial_hex', name=op.f('uq_seals_serial_hex'))
    )
    with op.batch_alter_table('seals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seals_department_code'), ['department_code'], unique=False)
        batch_op.create_index('uq_seals_active_department', ['department_code'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))


def downgrade() -> None:
    with op.batch_alter_table('seals', schema=None) as batch_op:
        batch_op.drop_index('uq_seals_active_department', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.drop_index(batch_op.f('ix_seals_department_code'))

    op.drop_table('seals')
    op.drop_table('seal_ca')
