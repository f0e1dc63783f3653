"""The e-license library: licenses, their versions, the license status list, presentation nonces,
kept presentations and usage copies.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('license_nonces',
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_license_nonces'))
    )
    with op.batch_alter_table('license_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_license_nonces_expires_at'), ['expires_at'], unique=False)

    op.create_table('license_presentations',
    sa.Column('reference', sa.String(length=43), nullable=False),
    sa.Column('presentation_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('reference', name=op.f('pk_license_presentations'))
    )
    with op.batch_alter_table('license_presentations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_license_presentations_expires_at'), ['expires_at'], unique=False)

    op.create_table('licenses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('license_type', sa.String(length=64), nullable=False),
    sa.Column('issuer_department', sa.String(length=64), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=128), nullable=False),
    sa.Column('holder_key', sa.String(length=64), nullable=False),
    sa.Column('holder_kind', sa.String(length=16), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_licenses')),
    sa.UniqueConstraint('issuer_department', 'license_type', 'serial', name='uq_licenses_issuer_type_serial'),
    sa.UniqueConstraint('issuer_department', 'reference', name='uq_licenses_issuer_reference')
    )
    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_licenses_holder_key'), ['holder_key'], unique=False)

    op.create_table('license_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('license_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=160), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_index', sa.Integer(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.String(length=32), nullable=True),
    sa.Column('credential_sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['license_id'], ['licenses.id'], name=op.f('fk_license_versions_license_id_licenses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_license_versions')),
    sa.UniqueConstraint('identifier', name=op.f('uq_license_versions_identifier')),
    sa.UniqueConstraint('license_id', 'version', name='uq_license_versions_license_version'),
    sa.UniqueConstraint('status_index', name=op.f('uq_license_versions_status_index'))
    )
    with op.batch_alter_table('license_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_license_versions_license_id'), ['license_id'], unique=False)

    op.create_table('license_usages',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('matter', sa.String(length=64), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=False),
    sa.Column('case_number', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['license_versions.id'], name=op.f('fk_license_usages_version_id_license_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_license_usages'))
    )
    with op.batch_alter_table('license_usages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_license_usages_matter'), ['matter'], unique=False)
        batch_op.create_index(batch_op.f('ix_license_usages_version_id'), ['version_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('license_usages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_license_usages_version_id'))
        batch_op.drop_index(batch_op.f('ix_license_usages_matter'))

    op.drop_table('license_usages')
    with op.batch_alter_table('license_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_license_versions_license_id'))

    op.drop_table('license_versions')
    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_licenses_holder_key'))

    op.drop_table('licenses')
    with op.batch_alter_table('license_presentations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_license_presentations_expires_at'))

    op.drop_table('license_presentations')
    with op.batch_alter_table('license_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_license_nonces_expires_at'))

    op.drop_table('license_nonces')
