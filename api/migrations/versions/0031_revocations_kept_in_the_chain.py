"""Revocations kept only in their rows get their entries in the access log's chain: a certificate,
a license version or a seal revoked before the chain recorded operations (migration 0028), and
a certificate revoked with the license it was read from (which had no entry of its own until
this release). Each gets the entry its revocation would write now (`certificate-revoked`,
`license-revoked`, `seal-revoked`, with the reason and the status-list entry its row holds),
appended at the time of the upgrade with no operator. From here on it stays revoked whatever
its row says, as every later revocation does; one the chain records already gets none.

The entries are written by the exchange's own code (`exchange.operations.record_operation`,
`exchange.operations.revocation_detail`): the chain's format is the one the log verifies.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session


revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from exchange.operation_codes import Operation
    from exchange.operations import Actor, record_operation, revocation_detail

    log = sa.table('access_log', *(sa.column(name) for name in ('outcome', 'reason', 'case_number')))

    def unrecorded(operation: Operation, target: Any) -> Any:
        return ~sa.exists().where(log.c.outcome == 'operation', log.c.reason == operation.value,
                                  log.c.case_number == target)

    certificates = sa.table('certificates', *(sa.column(name) for name in (
        'identifier', 'issuer_department', 'status', 'revocation_reason', 'status_list', 'status_index', 'revoked_at')))
    versions = sa.table('license_versions', *(sa.column(name) for name in (
        'identifier', 'license_id', 'status', 'revocation_reason', 'status_list', 'status_index', 'revoked_at')))
    licenses = sa.table('licenses', sa.column('id'), sa.column('issuer_department'))
    seals = sa.table('seals', *(sa.column(name) for name in (
        'serial_hex', 'department_code', 'revoked_at', 'revocation_reason')))
    session = Session(bind=op.get_bind())  # in the migration's transaction
    listed = ((Operation.CERTIFICATE_REVOKED, certificates, sa.select(certificates)),
              (Operation.LICENSE_REVOKED, versions, sa.select(versions, licenses.c.issuer_department).join(
                  licenses, licenses.c.id == versions.c.license_id)))
    for operation, table, rows in listed:  # what a status list holds: a certificate, a license version
        for row in session.execute(rows.where(table.c.status == 'revoked', table.c.revocation_reason.is_not(None),
                                              unrecorded(operation, table.c.identifier))
                                   .order_by(table.c.revoked_at, table.c.identifier)).all():
            record_operation(session, operation, Actor(), row.identifier, department=row.issuer_department,
                             detail=revocation_detail(row.revocation_reason, row.status_list, row.status_index))
    for row in session.execute(sa.select(seals).where(
            seals.c.revoked_at.is_not(None), seals.c.revocation_reason.is_not(None),
            unrecorded(Operation.SEAL_REVOKED, seals.c.serial_hex))
            .order_by(seals.c.revoked_at, seals.c.serial_hex)).all():
        record_operation(session, Operation.SEAL_REVOKED, Actor(), row.serial_hex, department=row.department_code,
                         detail=row.revocation_reason)


def downgrade() -> None:
    """The entries stay: the chain is append-only, and the older release reads them as operations."""
