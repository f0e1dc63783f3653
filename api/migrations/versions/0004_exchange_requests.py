"""Idempotent exchange requests: one row per (client, request id) with its encrypted answer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_requests")),
        sa.UniqueConstraint("client_id", "request_id", name="uq_exchange_requests_client_request"),
    )
    op.create_index(op.f("ix_exchange_requests_completed_at"), "exchange_requests", ["completed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_exchange_requests_completed_at"), table_name="exchange_requests")
    op.drop_table("exchange_requests")
