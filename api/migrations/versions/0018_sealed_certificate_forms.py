"""`certificates.forms_key_id`/`forms_sealed`: a certificate's three forms (credential, QR payload,
PDF), which carry the holder's name, masked ID number and ID binding, are stored sealed under the
keyring, as license credentials are (exchange/certificate_records.py). The clear columns stay, now
nullable, for certificates issued before; `mianzheng keys reencrypt` seals those and clears them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_CLEAR = (('credential', sa.Text()), ('qr_payload', sa.Text()), ('pdf', sa.LargeBinary()))


def upgrade() -> None:
    with op.batch_alter_table('certificates') as batch:
        batch.add_column(sa.Column('forms_key_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('forms_sealed', sa.LargeBinary(), nullable=True))
        for name, type_ in _CLEAR:
            batch.alter_column(name, existing_type=type_, nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('certificates') as batch:
        for name, type_ in _CLEAR:
            batch.alter_column(name, existing_type=type_, nullable=False)
        batch.drop_column('forms_sealed')
        batch.drop_column('forms_key_id')
