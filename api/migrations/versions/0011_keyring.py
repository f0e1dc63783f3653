"""Key ids next to every sealed value, so the encryption keys can rotate.

Every `<name>_sealed` column gets a `<name>_key_id` column: the id of the keyring key the value
was sealed under. Rows sealed before the keyring were sealed under the subject hash key, which
the keyring knows as key 0, so existing values get key id 0 (nullable sealed columns only where
a value is stored).

Revision ID: 0011
Revises: 0010_item_license
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010_item_license'
branch_labels = None
depends_on = None

SEALED = (
    # table, value name, whether the sealed column is nullable
    ("exchange_requests", "answer", True),
    ("applications", "parties", False),
    ("applications", "offers", False),
    ("applications", "decision", True),
    ("application_items", "values", True),
    ("commitments", "token", False),
    ("investigation_tasks", "result", True),
    ("tenancies", "parties", False),
    ("recheck_results", "decision", True),
    ("license_versions", "credential", False),
    ("license_presentations", "presentation", False),
)


def upgrade() -> None:
    for table, name, nullable in SEALED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(f"{name}_key_id", sa.Integer(), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET {name}_key_id = 0 WHERE {name}_sealed IS NOT NULL"))
        if not nullable:
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.alter_column(f"{name}_key_id", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    for table, name, _nullable in reversed(SEALED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(f"{name}_key_id")
