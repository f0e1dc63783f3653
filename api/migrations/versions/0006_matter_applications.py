"""Matter applications: their proof items, signed commitments and investigation tasks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('applications',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('matter', sa.String(length=64), nullable=False),
    sa.Column('catalog_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=False),
    sa.Column('consumer_department', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=False),
    sa.Column('request_sha256', sa.String(length=64), nullable=False),
    sa.Column('caseworker_id', sa.String(length=64), nullable=False),
    sa.Column('case_number', sa.String(length=64), nullable=False),
    sa.Column('applicant_key', sa.String(length=64), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('parties_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('offers_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('priorities', sa.JSON(), nullable=False),
    sa.Column('decision_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('flag_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('client_id', 'request_id', name='uq_applications_client_request')
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_applicant_key'), ['applicant_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_consumer_department'), ['consumer_department'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_matter'), ['matter'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_status'), ['status'], unique=False)

    op.create_table('application_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('proof', sa.String(length=64), nullable=False),
    sa.Column('party', sa.String(length=32), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('values_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=True),
    sa.Column('receipt_id', sa.String(length=36), nullable=True),
    sa.Column('commitment_id', sa.String(length=36), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_items_application_id_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_items')),
    sa.UniqueConstraint('application_id', 'proof', 'party', name='uq_application_items_proof_party')
    )
    with op.batch_alter_table('application_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_items_application_id'), ['application_id'], unique=False)

    op.create_table('commitments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('matter', sa.String(length=64), nullable=False),
    sa.Column('proof', sa.String(length=64), nullable=False),
    sa.Column('handling_department', sa.String(length=64), nullable=False),
    sa.Column('subject_key', sa.String(length=64), nullable=False),
    sa.Column('fallback', sa.Boolean(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('token_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verification_receipt_id', sa.String(length=36), nullable=True),
    sa.Column('verification_detail', sa.Text(), nullable=True),
    sa.Column('verify_attempts', sa.Integer(), nullable=False),
    sa.Column('next_verify_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_commitments_application_id_applications')),
    sa.ForeignKeyConstraint(['item_id'], ['application_items.id'], name=op.f('fk_commitments_item_id_application_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commitments'))
    )
    with op.batch_alter_table('commitments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commitments_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_commitments_handling_department'), ['handling_department'], unique=False)
        batch_op.create_index(batch_op.f('ix_commitments_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_commitments_subject_key'), ['subject_key'], unique=False)

    op.create_table('investigation_tasks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('proof', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result_sealed', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_investigation_tasks_application_id_applications')),
    sa.ForeignKeyConstraint(['item_id'], ['application_items.id'], name=op.f('fk_investigation_tasks_item_id_application_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_investigation_tasks'))
    )
    with op.batch_alter_table('investigation_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_investigation_tasks_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_investigation_tasks_department'), ['department'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('investigation_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_investigation_tasks_department'))
        batch_op.drop_index(batch_op.f('ix_investigation_tasks_application_id'))

    op.drop_table('investigation_tasks')
    with op.batch_alter_table('commitments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commitments_subject_key'))
        batch_op.drop_index(batch_op.f('ix_commitments_status'))
        batch_op.drop_index(batch_op.f('ix_commitments_handling_department'))
        batch_op.drop_index(batch_op.f('ix_commitments_application_id'))

    op.drop_table('commitments')
    with op.batch_alter_table('application_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_items_application_id'))

    op.drop_table('application_items')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_status'))
        batch_op.drop_index(batch_op.f('ix_applications_matter'))
        batch_op.drop_index(batch_op.f('ix_applications_created_at'))
        batch_op.drop_index(batch_op.f('ix_applications_consumer_department'))
        batch_op.drop_index(batch_op.f('ix_applications_applicant_key'))

    op.drop_table('applications')

