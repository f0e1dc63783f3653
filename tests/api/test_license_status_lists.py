"""License versions across several status lists, on SQLite and PostgreSQL: with the list capacity
set small (the library's kind of list, as an installation configures it), concurrent issuers open
a list each; each version names its own list, which the server publishes at its
own URL; an amendment or a revocation re-signs only the list of the version it changes; the online
verifier, and `mianzheng license export-status` with `mianzheng license verify` offline, pick each
version's own list."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import httpx

from api.database import standalone_session
from api.license_services import build_library
from api.runtime import Runtime
from api.settings import Settings
from demo.data import DemoResident, sample_residents
from exchange.certificates.status_list import read_status_list
from exchange.licenses.records import LicenseVersionRecord
from exchange.licenses.service import (LICENSES, IssueRequest, LicenseConflict, LicenseLibrary, amend_license,
                                       checked_holder, credential_of, current_version, issue_license, license_of,
                                       revoke_license)
from catalog.model import Subject
from exchange.operations import Actor
from exchange.status_lists import check_status_list, list_ids, stored_status_list
from seals.registry import trust_store
from tests.api.test_licenses_api import marriage
from tests.support.cli import cli_environment, run_cli

OFFICER = Actor(operator="os-user:test")

ISSUANCES = 4


def _issue(settings: Settings, lib: LicenseLibrary, person: DemoResident, number: int) -> LicenseVersionRecord:
    body = marriage(person, reference=f"MZ-LISTS-{number}")
    request = IssueRequest(body["license_type"], checked_holder(Subject.PERSON, person.name, person.id_number),
                           body["items"], body["reference"])
    with standalone_session(settings.database_url) as session:
        version = issue_license(session, lib, "MZ", request, OFFICER).version
        session.expunge(version)
        return version


def _verdict(base: str, text: str) -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/licenses/verification", json={"license": text}, timeout=30)
    assert response.status_code == 200, response.text
    return {check["check"]: check["code"] for check in response.json()["checks"]}


def test_license_versions_spread_over_lists_each_verified_against_its_own(settings: Settings, live_server: str,
                                                                          tmp_path: Path) -> None:
    current = Runtime.start(settings)
    catalog, _ = current.published_catalog()
    lib = replace(build_library(current, catalog), lists=replace(LICENSES, capacity=1))
    [person] = sample_residents(settings.sources_dir, 1)
    with ThreadPoolExecutor(3) as pool:
        issued = list(pool.map(lambda number: _issue(settings, lib, person, number), range(ISSUANCES)))

    lists = Counter(version.status_list for version in issued)  # one entry per list: each opened one
    assert len(lists) == ISSUANCES and set(lists.values()) == {1}
    with standalone_session(settings.database_url) as session:
        credentials = {v.identifier: credential_of(lib, session.get_one(LicenseVersionRecord, v.id)) for v in issued}
        trust, now = trust_store(session), datetime.now(timezone.utc)
    for version in issued:  # each names its own list, published at its own URL
        published = httpx.get(f"{live_server}/api/v1/status-lists/{version.status_list}")
        assert published.status_code == 200
        assert read_status_list(published.text, trust, now=now).names(lib.status_list.url(version.status_list))
        assert _verdict(live_server, credentials[version.identifier])["certificate_status"] == "certificate_not_revoked"

    revoked, amended = [v for v in issued if v.status_list != 2][:2]
    with standalone_session(settings.database_url) as session:
        before = {v.status_list: stored_status_list(session, v.status_list) for v in issued}
        revoke_license(session, lib, "MZ", revoked.identifier, "issued_in_error", OFFICER)
        successor = amend_license(session, lib, "MZ", amended.identifier, {"spouse_name": "李明明"}, OFFICER)
        successor_credential = credential_of(lib, successor)
    with standalone_session(settings.database_url) as session:
        after = {v.status_list: stored_status_list(session, v.status_list) for v in issued}
    changed = {list_id for list_id in before if before[list_id] != after[list_id]}
    assert changed == {revoked.status_list, amended.status_list}  # only the lists of the versions changed

    codes = {v.identifier: _verdict(live_server, credentials[v.identifier])["certificate_status"] for v in issued}
    assert codes[revoked.identifier] == codes[amended.identifier] == "certificate_revoked"
    assert [codes[v.identifier] for v in issued if v not in (revoked, amended)] == ["certificate_not_revoked"] * 2
    assert _verdict(live_server, successor_credential)["certificate_status"] == "certificate_not_revoked"

    env = cli_environment(settings.database_url, settings.var_dir)
    trust_dir = str(tmp_path / "trust")
    assert run_cli(env, "seal", "export-trust", trust_dir).returncode == 0
    exported = run_cli(env, "license", "export-status", trust_dir)
    lists_now = 1 + ISSUANCES + 1  # list 2 (the demo licenses), one per issuance, the amendment's
    assert exported.returncode == 0 and f"{lists_now} 个状态列表" in exported.stdout, exported.stdout
    for version in issued:
        held = tmp_path / f"{version.status_list}.sd-jwt"
        held.write_text(credentials[version.identifier], "utf-8")
        offline = run_cli(env, "license", "verify", str(held), "--trust", trust_dir)
        valid = version not in (revoked, amended)
        assert offline.returncode == (0 if valid else 1), offline.stdout + offline.stderr
        assert ("结论：有效。" in offline.stdout) is valid
    current.engine.dispose()


def test_amendments_and_revocations_at_once_leave_every_list_equal_to_its_table(settings: Settings) -> None:
    """Each license amended and revoked at the same moment, by two threads, while its next
    version opens a list of its own: whichever wins, the lists signed in the end state exactly
    the superseded and revoked versions of the table, and each license ends revoked."""
    current = Runtime.start(settings)
    catalog, _ = current.published_catalog()
    lib = replace(build_library(current, catalog), lists=replace(LICENSES, capacity=1))
    [person] = sample_residents(settings.sources_dir, 1)
    issued = [_issue(settings, lib, person, 100 + number) for number in range(3)]

    def amend(version: LicenseVersionRecord) -> None:
        with standalone_session(settings.database_url) as session:
            try:
                amend_license(session, lib, "MZ", version.identifier, {"spouse_name": "李明明"}, OFFICER)
            except LicenseConflict:  # revoked first: nothing to amend
                session.rollback()

    def revoke(version: LicenseVersionRecord) -> None:
        with standalone_session(settings.database_url) as session:
            revoke_license(session, lib, "MZ", version.identifier, "issued_in_error", OFFICER)

    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(task, version) for version in issued for task in (amend, revoke)]:
            done.result()

    now = datetime.now(timezone.utc)
    with standalone_session(settings.database_url) as session:
        trust = trust_store(session)
        for list_id in list_ids(session, LICENSES):
            check = check_status_list(session, LICENSES, list_id, trust, lib.status_list.url(list_id), now)
            assert check.agrees, check
        for version in issued:
            record = license_of(session, session.get_one(LicenseVersionRecord, version.id))
            assert record.status == "revoked"
            assert current_version(session, record).status == "revoked"
    current.engine.dispose()
