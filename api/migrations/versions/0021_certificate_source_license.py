"""`certificates.source_license`: the license version a certificate was read from (the license
library answering its proof), so that revoking or amending that license revokes the certificate.
Certificates issued before keep none.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('certificates') as batch:
        batch.add_column(sa.Column('source_license', sa.String(length=160), nullable=True))
        batch.create_index('ix_certificates_source_license', ['source_license'])


def downgrade() -> None:
    with op.batch_alter_table('certificates') as batch:
        batch.drop_index('ix_certificates_source_license')
        batch.drop_column('source_license')
