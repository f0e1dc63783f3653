"""Certificates across several status lists, on SQLite and PostgreSQL: with the list capacity set
small (the issuance context's kind of list, as an installation configures it), concurrent issuers
fill list 1 and open lists 3 and 4; each certificate names its own list, which the server
publishes at its own URL; a revocation re-signs only its list; the online verifier, the offline
bundle of `mianzheng seal export-trust` with `mianzheng verify`, `mianzheng certificate
status-list check` and the jobs all cover every list."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.certificate_services import build_issuance_context
from api.database import standalone_session
from api.jobs import sweep
from api.runtime import Runtime
from api.settings import Settings
from core.base64url import b64url_decode
from exchange.applications.leases import new_holder
from exchange.certificate_records import IssuedCertificate, certificate_forms
from exchange.certificates.credential import content_from_claims
from exchange.certificates.status_list import read_status_list
from exchange.issuance import IssuanceContext, issue_certificate, revoke_certificate
from exchange.operations import Actor
from demo.data import sample_residents
from exchange.status_lists import CERTIFICATES, StatusListRecord, stored_status_list
from exchange.unit_of_work import UnitOfWork
from seals.registry import trust_store
from tests.support.cli import cli_environment, run_cli

ISSUANCES = 5
CAPACITY = 2


def _credential(context: IssuanceContext, certificate: IssuedCertificate) -> str:
    return certificate_forms(context.forms, certificate).credential


def _list_url(context: IssuanceContext, certificate: IssuedCertificate) -> str:
    credential = _credential(context, certificate)
    return content_from_claims(json.loads(b64url_decode(credential.split(".")[1]))).status.list_url


def test_certificates_spread_over_lists_each_verified_against_its_own(settings: Settings, live_server: str,
                                                                      tmp_path: Path) -> None:
    current = Runtime.start(settings)
    context = replace(build_issuance_context(current, *current.published_catalog()),
                      certificate_lists=replace(CERTIFICATES, capacity=CAPACITY))
    [resident] = sample_residents(settings.sources_dir, 1)

    def issue(number: int) -> IssuedCertificate:
        return issue_certificate(context, resident.name, resident.id_number, "HOUSEHOLD_REGISTRATION", f"开具 {number}")

    with ThreadPoolExecutor(3) as pool:
        issued = list(pool.map(issue, range(ISSUANCES)))

    assert Counter(c.status_list for c in issued) == {1: CAPACITY, 3: CAPACITY, 4: 1}
    assert len({(c.status_list, c.status_index) for c in issued}) == ISSUANCES
    for certificate in issued:  # each names its own list; list 1 keeps the address it always had
        assert _list_url(context, certificate) == context.status_list.url(certificate.status_list)
    assert context.status_list.url(1).endswith("/api/v1/status-lists/1")

    with standalone_session(settings.database_url) as session:
        trust, now = trust_store(session), datetime.now(timezone.utc)
        before = {list_id: stored_status_list(session, list_id) for list_id in (1, 3, 4)}
        [revoked] = [c for c in issued if c.status_list == 3][:1]
        revoke_certificate(session, context.status_list, revoked.identifier, revoked.issuer_department,
                           "data_changed", now, Actor(operator="os-user:test"))
    with standalone_session(settings.database_url) as session:
        after = {list_id: stored_status_list(session, list_id) for list_id in (1, 3, 4)}
    assert after[1] == before[1] and after[4] == before[4] and after[3] != before[3]  # only its list re-signed

    published = httpx.get(f"{live_server}/api/v1/status-lists/3")
    assert published.status_code == 200
    list_3 = read_status_list(published.text, trust, now=now)
    assert list_3.names(_list_url(context, revoked)) and list_3.revoked_indexes() == {revoked.status_index}
    for unknown in ("9", "99999999999"):
        assert httpx.get(f"{live_server}/api/v1/status-lists/{unknown}").status_code == 404
    license_list = httpx.get(f"{live_server}/api/v1/status-lists/2")  # still the licenses' own list
    assert read_status_list(license_list.text, trust, now=now).names(context.status_list.url(2))

    for certificate in issued:  # the online service picks each certificate's list
        verdict = httpx.post(f"{live_server}/api/v1/verify", json={"credential": _credential(context, certificate)}).json()
        codes = {check["check"]: check["code"] for check in verdict["checks"]}
        expected = "certificate_revoked" if certificate is revoked else "certificate_not_revoked"
        assert codes["certificate_status"] == expected, (certificate.status_list, codes)

    env = cli_environment(settings.database_url, settings.var_dir)
    trust_dir = tmp_path / "trust"
    exported = run_cli(env, "seal", "export-trust", str(trust_dir))
    assert exported.returncode == 0 and "电子证明状态列表 3 份" in exported.stdout, exported.stdout + exported.stderr
    for certificate in (revoked, next(c for c in issued if c.status_list == 4), issued[0]):
        held = tmp_path / f"{certificate.serial}.jws"
        held.write_text(_credential(context, certificate), encoding="ascii")
        offline = run_cli(env, "verify", str(held), "--trust", str(trust_dir))
        if certificate is revoked:
            assert offline.returncode == 1 and "证明已被出具单位撤销" in offline.stdout, offline.stdout
        else:
            assert offline.returncode == 0 and "证明有效" in offline.stdout, offline.stdout

    check = run_cli(env, "certificate", "status-list", "check")
    assert check.returncode == 0 and "共 3 份状态列表，已撤销电子证明 1 张；状态列表漏记 0 张" in check.stdout, check.stdout

    with standalone_session(settings.database_url) as session:  # every list close to its expiry
        session.execute(update(StatusListRecord).values(token_expires_at=now + timedelta(hours=1)))
    assert sweep(current, new_holder(), 30.0).status_list_signed
    with standalone_session(settings.database_url) as session:
        for list_id in (1, 3, 4):
            renewed = read_status_list(stored_status_list(session, list_id) or "", trust, now=now + timedelta(hours=12))
            assert renewed.names(context.status_list.url(list_id))
        assert read_status_list(stored_status_list(session, 3) or "", trust, now=now).revoked_indexes() == {
            revoked.status_index}
    current.engine.dispose()


class _ProcessDied(Exception):
    """The issuing process stops here (as if killed)."""


class _DiesAfterAllocating(UnitOfWork):
    """A unit of work whose process dies as soon as the `allocate` step has committed."""

    allocated = False

    @contextmanager
    def step(self, name: str) -> Iterator[Session]:
        if _DiesAfterAllocating.allocated:
            raise _ProcessDied(name)
        with super().step(name) as session:
            yield session
        _DiesAfterAllocating.allocated = name == "allocate"

    @contextmanager
    def read(self) -> Iterator[Session]:
        if _DiesAfterAllocating.allocated:
            raise _ProcessDied("read")
        with super().read() as session:
            yield session


@dataclass(frozen=True, kw_only=True)
class _DyingContext(IssuanceContext):
    @property
    def uow(self) -> UnitOfWork:
        return _DiesAfterAllocating(self.sessions)


def test_a_list_is_signed_by_the_commit_that_opens_it(settings: Settings) -> None:
    """An issuer that dies right after its certificate's entry opened a new list leaves that list
    signed: verifiers can fetch it at once, not only after the jobs' next pass."""
    current = Runtime.start(settings)
    built = build_issuance_context(current, *current.published_catalog())
    context = _DyingContext(**{field.name: getattr(built, field.name) for field in fields(built)})
    context = replace(context, certificate_lists=replace(CERTIFICATES, capacity=1))
    [resident] = sample_residents(settings.sources_dir, 1)
    issue_certificate(replace(built, certificate_lists=context.certificate_lists), resident.name, resident.id_number,
                      "HOUSEHOLD_REGISTRATION", "开具")  # list 1's only entry: the next one opens list 3
    _DiesAfterAllocating.allocated = False
    with pytest.raises(_ProcessDied):
        issue_certificate(context, resident.name, resident.id_number, "HOUSEHOLD_REGISTRATION", "开具")
    with standalone_session(settings.database_url) as session:
        opened = session.scalars(select(StatusListRecord).where(StatusListRecord.ordinal == 1,
                                                                StatusListRecord.kind == CERTIFICATES.name)).one()
        token, trust = opened.token, trust_store(session)
    assert token is not None, "the list opened by the allocation was left unsigned"
    signed = read_status_list(token, trust, now=datetime.now(timezone.utc))
    assert signed.names(built.status_list.url(opened.id)) and signed.revoked_indexes() == set()
