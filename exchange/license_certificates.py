"""Certificates read from a license follow it. A proof the license library answers (残疾证明
from a 残疾人证, 居住证明 from a 居住证) is issued from the holder's license version
(`IssuedCertificate.source_license`); when that license is revoked, the certificates read from any
of its versions are revoked with the same reason, and when it is amended, those read from the
version it supersedes are revoked as `data_changed`: a certificate never goes on stating what
its license no longer does. Both happen in the transaction that revokes or amends the license,
and each such revocation is a `certificate-revoked` entry of the chain by whoever acted on the
license."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.certificate_records import CertificateStatus, IssuedCertificate
from exchange.operation_codes import Operation
from exchange.operations import Actor, record_operation, revocation_detail
from exchange.status_lists import CERTIFICATES, StatusListSigning, lock_status_list, sign_locked_list


def revoke_certificates_read_from(session: Session, signing: StatusListSigning, versions: Collection[str],
                                  reason: str, now: datetime, actor: Actor) -> int:
    """Revoke the valid certificates read from license versions `versions`, with `reason`, and sign
    their status lists again under their locks; how many were revoked. Each revocation is an entry
    of the access log's chain by `actor` (who revoked or amended the license), as a certificate
    revoked by its issuer is: it stays revoked whatever its row says."""
    if not versions:
        return 0
    locked: set[int] = set()
    while True:  # the lists to lock are read before their locks: until no new one turns up
        revoked = session.scalars(select(IssuedCertificate).where(
            IssuedCertificate.source_license.in_(versions), IssuedCertificate.status == CertificateStatus.VALID)
            .execution_options(populate_existing=True)).all()
        unlocked = sorted({certificate.status_list for certificate in revoked} - locked)
        if not unlocked:
            break
        for list_id in unlocked:
            lock_status_list(session, CERTIFICATES, list_id)
            locked.add(list_id)
    for certificate in revoked:
        certificate.status, certificate.revoked_at, certificate.revocation_reason = \
            CertificateStatus.REVOKED, now, reason
    session.flush()
    for list_id in sorted(locked):
        sign_locked_list(session, CERTIFICATES, list_id, signing, now)
    for certificate in revoked:
        record_operation(session, Operation.CERTIFICATE_REVOKED, actor, certificate.identifier,
                         department=certificate.issuer_department,
                         detail=revocation_detail(reason, certificate.status_list, certificate.status_index))
    return len(revoked)
