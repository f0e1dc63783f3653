"""A department pulls a citizen's proof through the exchange, over real HTTP, as the README
walks a newcomer through it: a client token for the housing bureau, the citizen's consent,
the request, the minimised answer with its receipt, and the access in "who used my data"."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from flask import Flask
from jwcrypto import jwk, jws
from sqlalchemy import select, update

from api.app import create_app
from api.database import standalone_session
from api.seal_config import seal_settings
from api.settings import Settings
from catalog.city_time import BEIJING
from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog
from catalog.versions import read_live_catalog
from exchange.operations import Actor, publish_recorded
from exchange import pull_service
from exchange.access_log import NOT_ACCESSES, AccessRecord
from exchange.clients import ClientScope, register_client, revoke_client, rotate_client
from demo.data import DemoResident, sample_residents
from seals.ca import RevocationReason
from seals.registry import Seal, active_seal, issue_seal, revoke_seal, rotate_seal
from tests.support.cli import cli_environment, run_cli
from tests.support.live_server import serving
from tests.support.postgres import free_port
from tests.support.seal_revocation import while_revoking
from tests.support.sql import empty_ledger, sql_rows

MATTER, PROOF = "PUBLIC_RENTAL_HOUSING", "NO_HOUSING"


@pytest.fixture
def residents(settings: Settings) -> list[DemoResident]:
    without_property, with_property = sample_residents(settings.sources_dir, 2)
    assert without_property.description.startswith("无房") and with_property.description.startswith("有房")
    return [without_property, with_property]


def client_token(settings: Settings, department: str = "ZJ", scopes: tuple[str, ...] = (ClientScope.EXCHANGE_REQUEST,)) -> str:
    with standalone_session(settings.database_url) as session:
        _, token = register_client(session, read_live_catalog(session), department, "公租房审批系统", list(scopes))
    return token


def assertion(base: str, person: DemoResident) -> str:
    response = httpx.post(f"{base}/dev-idp/token", json={"name": person.name, "id_number": person.id_number},
                          timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["assertion"]


def consent(base: str, person: DemoResident, proofs: list[str] = [PROOF]) -> str:  # noqa: B006
    response = httpx.post(f"{base}/api/v1/me/consents", headers=_bearer(assertion(base, person)), timeout=30,
                          json={"matter": MATTER, "proofs": proofs, "department": "ZJ", "days": 30})
    assert response.status_code in (200, 201), response.text
    return response.json()["id"]


def envelope(person: DemoResident, request_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "request_id": request_id, "caseworker_id": "zj-0042", "case_number": "GZF-2026-000123",
        "matter": MATTER, "proof": PROOF, "purpose": "公租房资格审核",
        "subject": {"id_number": person.id_number, "name": person.name},
    }
    body.update(overrides)
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def my_access_log(base: str, person: DemoResident) -> list[dict[str, Any]]:
    response = httpx.get(f"{base}/api/v1/me/access-log", headers=_bearer(assertion(base, person)))
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def test_newcomer_walkthrough(database_url: str, settings: Settings, live_server: str,
                              residents: list[DemoResident], tmp_path: Path) -> None:
    env = cli_environment(database_url, settings.var_dir)
    added = run_cli(env, "client", "add", "ZJ", "公租房审批系统")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    person = residents[0]
    consent_id = consent(live_server, person)

    response = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                          json=envelope(person, "walkthrough-1", consent_id=consent_id))
    assert response.status_code == 200, response.text
    body = response.json()
    answer = body["answer"]
    assert answer["source"] == {"department": "BDC", "name": "金华市不动产登记中心"}
    catalog_fields = httpx.get(f"{live_server}/api/v1/catalog/matters/{MATTER}").json()["proofs"]
    assert set(answer["data"]) == set(next(r for r in catalog_fields if r["proof"] == PROOF)["fields"])
    assert answer["data"]["has_registered_property"] is False
    assert person.id_number not in response.text

    (tmp_path / "answer.json").write_text(response.text, encoding="utf-8")
    assert run_cli(env, "seal", "export-trust", str(tmp_path / "trust")).returncode == 0
    verified = run_cli(env, "receipt", "verify", str(tmp_path / "answer.json"), "--trust", str(tmp_path / "trust"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "回执有效" in verified.stdout
    answered_at = datetime.fromisoformat(body["answer"]["answered_at"]).astimezone(BEIJING)
    assert f"于 {answered_at:%Y-%m-%d %H:%M:%S}（北京时间） 答复" in verified.stdout, verified.stdout

    body["answer"]["data"]["has_registered_property"] = True
    (tmp_path / "forged.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    forged = run_cli(env, "receipt", "verify", str(tmp_path / "forged.json"), "--trust", str(tmp_path / "trust"))
    assert forged.returncode == 1 and "回执与答复内容不一致" in forged.stdout

    # the exchange's seal is revoked for key compromise: the receipt vouches for nothing, but the
    # answer it came with is not called altered (an auditor would read tampering into it)
    assert run_cli(env, "seal", "revoke", "SJ", "--reason", "key_compromise").returncode == 0
    unsigned = run_cli(env, "seal", "export-trust", str(tmp_path / "trust-after"))  # nothing signs the lists yet
    assert unsigned.returncode == 4 and "mianzheng seal issue SJ" in unsigned.stderr, unsigned.stderr
    checked = run_cli(env, "certificate", "status-list", "check")  # the lists' seal is revoked: nothing to compare
    assert checked.returncode == 1 and "无法核对" in checked.stdout and "漏记" not in checked.stdout.splitlines()[0]
    assert "漏记 0 张" in checked.stdout.splitlines()[-1] and "1 份不可用，未核对" in checked.stdout, checked.stdout
    assert "先由印章管理员运行 mianzheng seal issue SJ" in checked.stderr, checked.stderr
    assert run_cli(env, "seal", "issue", "SJ").returncode == 0
    assert run_cli(env, "seal", "export-trust", str(tmp_path / "trust-after")).returncode == 0
    revoked = run_cli(env, "receipt", "verify", str(tmp_path / "answer.json"), "--trust", str(tmp_path / "trust-after"))
    assert revoked.returncode == 1 and "吊销" in revoked.stdout, revoked.stdout
    assert "可能被改动" not in revoked.stdout and "不是交换平台的印章签发的" not in revoked.stdout, revoked.stdout
    assert "未核对" in revoked.stdout and "回执印章：签名完整" in revoked.stdout, revoked.stdout

    [entry] = my_access_log(live_server, person)
    assert (entry["consumer_department"], entry["matter"], entry["proof"], entry["outcome"]) == \
           ("ZJ", MATTER, PROOF, "allowed")
    assert entry["case_number"] == "GZF-2026-000123" and entry["consent_id"] == consent_id


def consented_pull(base: str, settings: Settings, person: DemoResident, request_id: str) -> httpx.Response:
    """The housing bureau's pull of `person`'s 无房证明 once `person` consented: answered."""
    consent(base, person)
    answered = httpx.post(f"{base}/api/v1/exchange/requests", headers=_bearer(client_token(settings)),
                          json=envelope(person, request_id))
    assert answered.status_code == 200, answered.text
    return answered


def test_the_spouse_a_marital_status_answer_names_sees_the_pull(settings: Settings, live_server: str) -> None:
    """A 婚姻状况 pull answers with the spouse's name and ID number: the spouse's own 谁用了我的数据
    lists it, on the basis that the data pulled was about them too, not the subject's consent."""
    import json
    import sqlite3

    with sqlite3.connect(settings.sources_dir / "MZ.db") as registry:
        number, name, record = registry.execute(
            "SELECT subject_id, subject_name, record FROM records WHERE proof_code = 'MARITAL_STATUS' "
            "AND record LIKE '%\"married\"%' ORDER BY subject_id LIMIT 1").fetchone()
    married = DemoResident(name=name, id_number=number, household_no=None, description="已婚")
    spouse = DemoResident(name=json.loads(record)["spouse_name"], id_number=json.loads(record)["spouse_id_number"],
                          household_no=None, description="配偶")
    answered = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(client_token(settings)), json=envelope(
        married, "gzf-marital-named", proof="MARITAL_STATUS", consent_id=consent(live_server, married, ["MARITAL_STATUS"])))
    assert answered.status_code == 200 and answered.json()["answer"]["data"]["spouse_id_number"] == spouse.id_number
    [entry] = [entry for entry in my_access_log(live_server, spouse) if entry["proof"] == "MARITAL_STATUS"]
    assert entry["outcome"] == "allowed" and entry["consent_id"] is None and "载有您的信息" in entry["basis_zh"]
    assert len([e for e in my_access_log(live_server, married) if e["proof"] == "MARITAL_STATUS"]) == 1


def test_a_signed_head_held_outside_shows_the_newest_entries_were_cut_off(
        database_url: str, settings: Settings, live_server: str, residents: list[DemoResident], tmp_path: Path) -> None:
    """An outsider keeps the head the exchange's seal signs; once the newest entries are deleted
    (a chain still self-consistent), `audit verify --signed-head` says so. A forged or
    mistyped head is refused."""
    env = cli_environment(database_url, settings.var_dir)
    sql_rows(database_url, "DELETE FROM access_log")
    assert httpx.get(f"{live_server}/api/v1/trust/access-log-head").status_code == 404  # no entry: no head
    empty_ledger(database_url)  # an installation that has logged nothing yet but its catalog and its demo system
    assert httpx.get(f"{live_server}/api/v1/trust/access-log-head").json()["seq"] == 2
    answered = consented_pull(live_server, settings, residents[0], "signed-head-1")

    fetched = httpx.get(f"{live_server}/api/v1/trust/access-log-head")
    assert fetched.status_code == 200 and fetched.headers["Cache-Control"] == "no-store"
    head = fetched.json()
    last = sql_rows(database_url, "SELECT seq, entry_hash FROM access_log ORDER BY seq DESC LIMIT 1")[0]
    assert (head["seq"], head["entry_hash"]) == last
    signed = jws.JWS()
    signed.deserialize(head["signed_head"])
    leaf = x509.load_der_x509_certificate(base64.b64decode(signed.jose_header["x5c"][0]))
    signed.verify(jwk.JWK.from_pyca(leaf.public_key()))  # an independent JOSE library agrees
    assert json.loads(signed.payload) == {"seq": head["seq"], "entry_hash": head["entry_hash"],
                                          "iat": int(datetime.fromisoformat(head["signed_at"]).timestamp())}
    assert signed.jose_header["typ"] == "mianzheng-log-head+jwt"

    (tmp_path / "head.json").write_text(fetched.text, encoding="utf-8")
    assert run_cli(env, "seal", "export-trust", str(tmp_path / "trust")).returncode == 0
    checked = run_cli(env, "audit", "verify", "--signed-head", str(tmp_path / "head.json"), "--trust", str(tmp_path / "trust"))
    assert checked.returncode == 0, checked.stderr
    assert f"第 {head['seq']} 条" in checked.stdout and "且包含锚定的链头" in checked.stdout
    signed_at = datetime.fromisoformat(head["signed_at"]).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    assert f"{signed_at}（北京时间）" in checked.stdout, checked.stdout  # as the pages state every time

    header, payload, signature = head["signed_head"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged_payload = base64.urlsafe_b64encode(json.dumps({**claims, "seq": 1}).encode()).rstrip(b"=").decode()
    (tmp_path / "forged.jwt").write_text(f"{header}.{forged_payload}.{signature}", encoding="utf-8")
    (tmp_path / "receipt.jwt").write_text(answered.json()["receipt"], encoding="utf-8")
    for name, reason in (("forged.jwt", "签名未通过验证"), ("receipt.jwt", "不是访问日志的链头")):
        refused = run_cli(env, "audit", "verify", "--signed-head", str(tmp_path / name), "--trust", str(tmp_path / "trust"))
        assert refused.returncode == 1 and reason in refused.stderr and "。。" not in refused.stderr, refused.stderr

    sql_rows(database_url, f"DELETE FROM access_log WHERE seq >= {head['seq']}")
    assert run_cli(env, "audit", "verify").returncode == 0  # what is left is a self-consistent chain
    cut = run_cli(env, "audit", "verify", "--signed-head", str(tmp_path / "head.json"), "--trust", str(tmp_path / "trust"))
    assert cut.returncode == 1 and "与锚定的链头不符（日志被截断或重写）" in cut.stderr, cut.stderr
    assert "完整" not in cut.stderr and "无法证明" in cut.stderr  # a rewrite may reach below the anchor


def test_a_matter_dropped_by_a_publication_keeps_its_name_where_the_citizen_reads_about_it(
        settings: Settings, live_server: str, residents: list[DemoResident]) -> None:
    """The housing bureau pulled a citizen's 无房证明 for 公租房 under a consent; a later
    publication drops 公租房. The citizen's 谁用了我的数据 and 我的授权 still say for which matter."""
    from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog

    person = residents[0]
    consented_pull(live_server, settings, person, "named-after-drop")
    document = load_catalog(bundled_catalog_path()).to_document()
    document["matters"] = [m for m in document["matters"] if m["code"] != MATTER]
    for license_type in document["licenses"]:
        license_type["uses"] = [use for use in license_type.get("uses", []) if use["matter"] != MATTER]
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, catalog_from_document(document), "目录管理员", None, Actor())
    [entry] = my_access_log(live_server, person)
    assert entry["matter_name_zh"] == "申请公租房一件事", entry
    consents = httpx.get(f"{live_server}/api/v1/me/consents", headers=_bearer(assertion(live_server, person))).json()
    assert [c["matter_name_zh"] for c in consents] == ["申请公租房一件事"], consents
    page = httpx.get(f"{live_server}/portal/access-log",
                     cookies={"mz_identity": assertion(live_server, person)}).text
    assert "申请公租房一件事" in page


def test_a_repeated_request_id_is_answered_from_the_store(settings: Settings, live_server: str,
                                                          residents: list[DemoResident]) -> None:
    token = client_token(settings)
    person = residents[1]
    consent(live_server, person)
    first = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                       json=envelope(person, "repeat-1"))
    assert first.status_code == 200, first.text
    assert first.json()["answer"]["data"]["has_registered_property"] is True

    _change_source_record(settings, person, has_registered_property=False)
    again = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                       json=envelope(person, "repeat-1"))
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    fresh = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                       json=envelope(person, "repeat-2"))
    assert fresh.json()["answer"]["data"]["has_registered_property"] is False

    changed = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                         json=envelope(person, "repeat-1", purpose="另一用途"))
    assert changed.status_code == 409
    assert changed.headers["content-type"] == "application/problem+json"
    assert "retry-after" not in changed.headers  # repeating it can never succeed: the id holds another request
    reasons = [e.get("reason") for e in my_access_log(live_server, person)]
    assert reasons.count("replayed") == 1


def _change_source_record(settings: Settings, person: DemoResident, **changes: Any) -> None:
    """Change the department's own data, as the registry's clerks would."""
    with sqlite3.connect(settings.sources_dir / "BDC.db") as connection:
        rows = connection.execute("SELECT rowid, record FROM records WHERE proof_code = ? AND subject_id = ?",
                                  (PROOF, person.id_number)).fetchall()
        assert rows, "the demo resident has a BDC record"
        for rowid, record in rows:
            connection.execute("UPDATE records SET record = ? WHERE rowid = ?",
                               (json.dumps({**json.loads(record), **changes}, ensure_ascii=False), rowid))


def test_refusals_are_problems_and_are_logged(settings: Settings, live_server: str,
                                              residents: list[DemoResident]) -> None:
    token = client_token(settings)
    person = residents[0]
    url = f"{live_server}/api/v1/exchange/requests"

    no_consent = httpx.post(url, headers=_bearer(token), json=envelope(person, "refused-1"))
    assert no_consent.status_code == 403
    assert no_consent.json()["type"] == "/problems/consent-required"

    other_department = client_token(settings, "GA")
    consent(live_server, person)
    forbidden = httpx.post(url, headers=_bearer(other_department), json=envelope(person, "refused-2"))
    assert forbidden.status_code == 403
    assert forbidden.json()["type"] == "/problems/forbidden-by-policy"

    outcomes = [(e["outcome"], e["reason"]) for e in my_access_log(live_server, person)]
    assert ("denied", "consent-missing") in outcomes and ("denied", "forbidden-by-policy") in outcomes

    # a matter that rests on consent has no legal basis to name: one sent is not silently ignored
    with_basis = httpx.post(url, headers=_bearer(token), json=envelope(person, "refused-3", legal_basis="随便"))
    assert with_basis.status_code == 400 and with_basis.json()["errors"][0]["pointer"] == "#/legal_basis", \
        with_basis.text


def test_a_bad_id_number_is_refused_before_any_pull(settings: Settings, live_server: str,
                                                    residents: list[DemoResident]) -> None:
    token = client_token(settings)
    person = residents[0]
    broken = person.id_number[:-1] + ("0" if person.id_number[-1] != "0" else "1")
    response = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                          json=envelope(dataclasses.replace(person, id_number=broken), "bad-id"))
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "/problems/invalid-request"
    assert body["errors"][0]["pointer"] == "#/subject/id_number"
    assert "check" in body["errors"][0]["detail"]
    assert broken not in response.text
    assert my_access_log(live_server, person) == []


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"Authorization": "Bearer mzc_0_nope"}, 401)])
def test_unauthenticated_requests(live_server: str, residents: list[DemoResident], headers: dict[str, str],
                                  status: int) -> None:
    response = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=headers,
                          json=envelope(residents[0], "anon"))
    assert response.status_code == status
    assert "Bearer" in response.headers["www-authenticate"]


def test_a_client_without_the_scope_is_forbidden(settings: Settings, live_server: str,
                                                 residents: list[DemoResident]) -> None:
    token = client_token(settings, scopes=(ClientScope.APPLICATIONS_WRITE,))
    response = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                          json=envelope(residents[0], "scope"))
    assert response.status_code == 403


def test_an_unknown_subject_is_subject_not_found(settings: Settings, live_server: str,
                                                 residents: list[DemoResident]) -> None:
    token = client_token(settings)
    stranger = DemoResident("王五", "11010519491231002X", None, "")
    consent(live_server, stranger)
    response = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                          json=envelope(stranger, "stranger"))
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/subject-not-found"


@contextmanager
def registry_at(settings: Settings, folder: Path, url: str, *, timeout_seconds: float,
                retries: int) -> Iterator[str]:
    """The app served with the registry (BDC) reached over HTTP at `url`."""
    sources_file = folder / "sources.yaml"
    sources_file.write_text(f"departments:\n  BDC:\n    url: {url}\n    token: a-long-shared-token-1234\n"
                            f"    timeout_seconds: {timeout_seconds}\n    retries: {retries}\n", encoding="utf-8")
    app: Flask = create_app(dataclasses.replace(settings, sources_file=sources_file))
    with serving(app) as base:
        yield base
    app.extensions["mianzheng"].engine.dispose()


@pytest.fixture
def unreachable_registry(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The app with the registry (BDC) configured over HTTP at a port nobody listens on."""
    with registry_at(settings, tmp_path, f"http://127.0.0.1:{free_port()}", timeout_seconds=1, retries=1) as base:
        yield base


def test_a_department_that_is_down_gives_source_unavailable_and_loses_nothing(
    settings: Settings, unreachable_registry: str, residents: list[DemoResident]
) -> None:
    token = client_token(settings)
    person = residents[0]
    consent(unreachable_registry, person)
    response = httpx.post(f"{unreachable_registry}/api/v1/exchange/requests", headers=_bearer(token),
                          json=envelope(person, "down-1"), timeout=10)
    assert response.status_code == 503
    assert response.json()["type"] == "/problems/source-unavailable"
    assert "127.0.0.1" not in response.text  # no internal address for the caller
    assert int(response.headers["retry-after"]) >= 1
    failure, attempt = my_access_log(unreachable_registry, person)  # newest first
    assert (attempt["outcome"], attempt["reason"]) == ("allowed", None)  # logged before the source was asked
    assert (failure["outcome"], failure["reason"]) == ("failed", "source-unavailable")
    assert failure["case_number"] == attempt["case_number"] and failure["seq"] > attempt["seq"]


@pytest.fixture
def broken_registry(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The app with the registry (BDC) behind a connector whose every answer breaks the contract:
    `property_count` written as a string, a defect of its records that no retry mends."""
    from tests.exchange.sources.stub_server import Reply, Script, stub_connector

    record = {"full_name": "x", "id_number": None, "search_scope_region": "330700", "has_registered_property": False,
              "property_count": "0", "search_purpose": "核验", "search_no": "1",
              "searched_at": "2026-11-01T02:00:00+08:00"}
    with stub_connector(Script([Reply(body={"proof": "NO_HOUSING", "as_of": "2026-11-01T02:00:00+08:00",
                                            "record": record})])) as url, \
            registry_at(settings, tmp_path, url, timeout_seconds=2, retries=0) as base:
        yield base


def test_a_source_that_breaks_its_contract_is_a_source_error_not_a_retry(
        settings: Settings, broken_registry: str, residents: list[DemoResident]) -> None:
    """What the source answers cannot be used, and will not be the next time: the department is
    told the source's answer was faulty (502 source-error, no Retry-After), the log says so, and an
    application goes to a caseworker naming the proof, instead of waiting for a retry every
    minute that cannot succeed, each one logged for the household."""
    from demo.applications import public_housing_request
    from demo.data import demo_households

    person = residents[0]
    consent(broken_registry, person)
    pulled = httpx.post(f"{broken_registry}/api/v1/exchange/requests", headers=_bearer(client_token(settings)),
                        json=envelope(person, "broken-1"), timeout=10)
    assert pulled.status_code == 502 and pulled.json()["type"] == "/problems/source-error", pulled.text
    assert "retry-after" not in pulled.headers
    failure = my_access_log(broken_registry, person)[0]
    assert (failure["outcome"], failure["reason"]) == ("failed", "source-error")

    with standalone_session(settings.database_url) as session:
        [household] = demo_households(settings.sources_dir, read_live_catalog(session), "public_housing_eligible", 1)
    with standalone_session(settings.database_url) as session:
        _, housing = register_client(session, read_live_catalog(session), "ZJ", "公租房审批系统",
                                     [ClientScope.APPLICATIONS_WRITE])
    filed = httpx.post(f"{broken_registry}/api/v1/matters/PUBLIC_RENTAL_HOUSING/applications", headers=_bearer(housing),
                       json=public_housing_request(household, "broken-app", signed_at=datetime.now().astimezone()),
                       timeout=30)
    assert filed.status_code == 201 and filed.json()["status"] == "decided", filed.text
    application = filed.json()
    assert application["decision"] == "needs_review"
    no_housing = [item for item in application["items"] if item["proof"] == "NO_HOUSING"]
    assert no_housing and all(item["state"] == "denied" and "答复" in item["detail"] for item in no_housing), no_housing


def _audit_entries(settings: Settings) -> list[tuple[str, str | None, str | None]]:
    """The accesses logged, oldest first (not the consents' nor the operations' entries)."""
    with standalone_session(settings.database_url) as session:
        return [(e.outcome, e.reason, e.client_id) for e in session.query(AccessRecord)
                .filter(AccessRecord.outcome.not_in(NOT_ACCESSES)).order_by(AccessRecord.seq)]


def test_refusals_before_the_use_case_are_logged_with_their_codes(settings: Settings, live_server: str,
                                                                   residents: list[DemoResident]) -> None:
    url = f"{live_server}/api/v1/exchange/requests"
    person = residents[0]
    assert httpx.post(url, json=envelope(person, "edge-1")).status_code == 401
    no_scope = client_token(settings, scopes=(ClientScope.APPLICATIONS_WRITE,))
    assert httpx.post(url, headers=_bearer(no_scope), json=envelope(person, "edge-2")).status_code == 403
    token = client_token(settings)
    malformed = httpx.post(url, headers=_bearer(token), json={"request_id": "edge-3", "matter": 7})
    assert malformed.status_code == 400
    logged = [(outcome, reason) for outcome, reason, _ in _audit_entries(settings)]
    assert logged[-3:] == [("denied", "unauthenticated"), ("denied", "insufficient-scope"),
                           ("denied", "invalid-request")]


def test_a_flood_of_calls_without_a_token_does_not_flood_the_access_log(
        settings: Settings, live_server: str, residents: list[DemoResident], caplog: pytest.LogCaptureFixture) -> None:
    """Callers without a client token name no one and read nothing: past a burst per address their
    refusals are no longer appended to the tamper-evident log (each append takes its lock, which
    real pulls wait on), and the server's log says so once. A department's request is still logged."""
    url = f"{live_server}/api/v1/exchange/requests"
    person = residents[0]
    before = len(_audit_entries(settings))
    with caplog.at_level("WARNING", logger="api.exchange_edge_log"), httpx.Client() as stranger:
        statuses = {stranger.post(url, json=envelope(person, f"flood-{n}")).status_code for n in range(120)}
    assert statuses == {401}
    logged = _audit_entries(settings)[before:]
    assert all(reason == "unauthenticated" for _, reason, _ in logged)
    assert 20 <= len(logged) <= 40
    warnings = [r.getMessage() for r in caplog.records if r.name == "api.exchange_edge_log"]
    assert len(warnings) == 1 and "127.0.0.1" in warnings[0]
    consent(live_server, person)
    token = client_token(settings)
    assert httpx.post(url, headers=_bearer(token), json=envelope(person, "after-flood")).status_code == 200
    assert _audit_entries(settings)[-1][:2] == ("allowed", None)


def test_requests_naming_what_the_catalog_lacks_or_a_malformed_id_number_are_logged(
        settings: Settings, live_server: str, residents: list[DemoResident]) -> None:
    """An auditor sees a department probing with made-up proofs or ID numbers: each refused
    request leaves its entry, with its request id, and no ID number."""
    url = f"{live_server}/api/v1/exchange/requests"
    person = residents[0]
    token = client_token(settings)
    bad_digit = person.id_number[:-1] + ("0" if person.id_number[-1] != "0" else "1")
    bodies = {"probe-proof": envelope(person, "probe-proof", proof="NOPE"),
              "probe-matter": envelope(person, "probe-matter", matter="NOPE"),
              "probe-digit": envelope(person, "probe-digit", subject={"id_number": bad_digit, "name": person.name}),
              "probe-short": envelope(person, "probe-short", subject={"id_number": person.id_number[:17],
                                                                     "name": person.name})}
    for body in bodies.values():
        assert httpx.post(url, headers=_bearer(token), json=body).status_code == 400
    with standalone_session(settings.database_url) as session:
        logged = session.execute(select(AccessRecord.request_id, AccessRecord.outcome, AccessRecord.reason,
                                        AccessRecord.consumer_department).where(AccessRecord.request_id.in_(bodies))
                                 .order_by(AccessRecord.seq)).all()
    assert [tuple(row) for row in logged] == [(request_id, "denied", "invalid-request", "ZJ") for request_id in bodies]


def test_a_withdrawn_consent_stops_replays_of_the_stored_answer(settings: Settings, live_server: str,
                                                               residents: list[DemoResident]) -> None:
    token = client_token(settings)
    person = residents[0]
    consent_id = consent(live_server, person)
    url = f"{live_server}/api/v1/exchange/requests"
    first = httpx.post(url, headers=_bearer(token), json=envelope(person, "withdraw-1"))
    assert first.status_code == 200
    assert httpx.post(url, headers=_bearer(token), json=envelope(person, "withdraw-1")).status_code == 200
    withdrawn = httpx.delete(f"{live_server}/api/v1/me/consents/{consent_id}",
                             headers=_bearer(assertion(live_server, person)))
    assert withdrawn.status_code in (200, 204), withdrawn.text
    replay = httpx.post(url, headers=_bearer(token), json=envelope(person, "withdraw-1"))
    assert replay.status_code == 403 and replay.json()["type"] == "/problems/consent-required"
    assert "data" not in replay.text and person.id_number not in replay.text
    assert [(e["outcome"], e["reason"]) for e in my_access_log(live_server, person)][:2] == \
           [("denied", "consent-withdrawn"), ("allowed", "replayed")]
    receipt = first.json()["receipt"]  # what the department already holds stays verifiable
    answer_file = Path(settings.var_dir) / "withdrawn-answer.json"
    answer_file.write_text(json.dumps(first.json(), ensure_ascii=False), encoding="utf-8")
    env = cli_environment(settings.database_url, settings.var_dir)
    assert run_cli(env, "seal", "export-trust", str(settings.var_dir / "trust")).returncode == 0
    verified = run_cli(env, "receipt", "verify", str(answer_file), "--trust", str(settings.var_dir / "trust"))
    assert verified.returncode == 0 and receipt, verified.stdout + verified.stderr
    # a request naming the withdrawn consent is logged with it: an auditor sees which consent was relied on
    named = httpx.post(url, headers=_bearer(token), json=envelope(person, "withdraw-2", consent_id=consent_id))
    assert named.status_code == 403, named.text
    [refused] = [e for e in my_access_log(live_server, person) if e["reason"] == "consent-withdrawn"][:1]
    assert refused["consent_id"] == consent_id, refused


def test_withdrawing_a_consent_given_twice_stops_the_department(settings: Settings, live_server: str,
                                                                residents: list[DemoResident]) -> None:
    """The citizen agreed twice to the same request (a link opened from a text message and again
    from the department's site), then withdraws: the department can no longer pull on either,
    as the page promises (该部门不能再据此调取您的数据). A consent for other proofs stands."""
    token = client_token(settings)
    person = residents[0]
    first, second = consent(live_server, person), consent(live_server, person)
    other = consent(live_server, person, proofs=[PROOF, "HOUSEHOLD_REGISTRATION"])
    me = _bearer(assertion(live_server, person))
    withdrawn = httpx.delete(f"{live_server}/api/v1/me/consents/{second}", headers=me)
    assert withdrawn.status_code in (200, 204), withdrawn.text
    statuses = {c["id"]: c["status"] for c in httpx.get(f"{live_server}/api/v1/me/consents", headers=me).json()}
    assert statuses[first] == statuses[second] == "withdrawn" and statuses[other] == "active", statuses
    pulled = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                        json=envelope(person, "twice-given", consent_id=first))
    assert pulled.status_code == 403 and pulled.json()["type"] == "/problems/consent-required", pulled.text


FAR = "2099-01-01 00:00:00.000000"
"""A time far ahead, as both databases read a stored timestamp written in SQL."""


def test_a_consent_counts_as_the_access_log_records_it_not_as_its_table_says(
        settings: Settings, live_server: str, database_url: str, residents: list[DemoResident]) -> None:
    """Someone with write access to the database sets a withdrawal back, widens a consent past
    its days, or inserts one: the department still cannot pull on it, 我的授权 says what the
    citizen did, and the chain that records it stays whole (undoing its entries would break it)
    while `audit verify` names the rows changed."""
    token = client_token(settings)
    person, other = residents[0], residents[1]
    url = f"{live_server}/api/v1/exchange/requests"
    me = _bearer(assertion(live_server, person))
    withdrawn = consent(live_server, person)
    assert httpx.delete(f"{live_server}/api/v1/me/consents/{withdrawn}", headers=me).status_code in (200, 204)
    sql_rows(database_url, f"UPDATE consents SET withdrawn_at = NULL WHERE id = '{withdrawn}'")
    restored = httpx.post(url, headers=_bearer(token), json=envelope(person, "restored-1", consent_id=withdrawn))
    assert restored.status_code == 403 and restored.json()["type"] == "/problems/consent-required", restored.text
    statuses = {c["id"]: c["status"] for c in httpx.get(f"{live_server}/api/v1/me/consents", headers=me).json()}
    assert statuses[withdrawn] == "withdrawn", statuses
    assert my_access_log(live_server, person)[0]["reason"] == "consent-withdrawn"

    widened = consent(live_server, other)
    sql_rows(database_url, f"UPDATE consents SET expires_at = '{FAR}' WHERE id = '{widened}'")
    longer = httpx.post(url, headers=_bearer(token), json=envelope(other, "widened-1", consent_id=widened))
    assert longer.status_code == 403 and longer.json()["type"] == "/problems/consent-required", longer.text

    sql_rows(database_url, "INSERT INTO consents (id, subject_key, matter, proofs, consumer_department, channel, "
                           "granted_at, expires_at, withdrawn_at, bound_client_id, application_id, items) "
                           f"SELECT '00000000-0000-4000-8000-000000000001', subject_key, matter, proofs, "
                           f"consumer_department, channel, granted_at, '{FAR}', NULL, NULL, NULL, "
                           f"items FROM consents WHERE id = '{withdrawn}'")
    inserted = httpx.post(url, headers=_bearer(token), json=envelope(person, "inserted-1"))
    assert inserted.status_code == 403 and inserted.json()["type"] == "/problems/consent-required", inserted.text
    named = httpx.post(url, headers=_bearer(token),
                       json=envelope(person, "inserted-2", consent_id="00000000-0000-4000-8000-000000000001"))
    assert named.status_code == 403, named.text
    listed = [c["id"] for c in httpx.get(f"{live_server}/api/v1/me/consents", headers=me).json()]
    assert "00000000-0000-4000-8000-000000000001" not in listed and withdrawn in listed, listed
    checked = run_cli(cli_environment(database_url, settings.var_dir), "audit", "verify")
    assert checked.returncode == 1 and "访问日志完整" in checked.stdout, checked.stdout + checked.stderr
    assert "授权表有 3 处与访问日志不符" in checked.stderr, checked.stderr  # the auditor is told what was changed


def test_a_replay_gives_nothing_on_a_consent_row_deleted_or_lengthened(
        settings: Settings, live_server: str, database_url: str, residents: list[DemoResident]) -> None:
    """A consent is never deleted, and it lasts as long as its grant says: a stored answer is not
    handed out again once its consent's row is gone, or lengthened after it expired."""
    token = client_token(settings)
    url = f"{live_server}/api/v1/exchange/requests"
    deleted, lengthened = consent(live_server, residents[0]), consent(live_server, residents[1])
    for person, request_id, consent_id in ((residents[0], "gone-1", deleted), (residents[1], "longer-1", lengthened)):
        first = httpx.post(url, headers=_bearer(token), json=envelope(person, request_id, consent_id=consent_id))
        assert first.status_code == 200, first.text
    sql_rows(database_url, f"DELETE FROM consents WHERE id = '{deleted}'")
    sql_rows(database_url, f"UPDATE consents SET expires_at = granted_at WHERE id = '{lengthened}'")  # its days passed
    assert httpx.post(url, headers=_bearer(token), json=envelope(residents[1], "longer-1",
                                                                 consent_id=lengthened)).status_code == 403
    sql_rows(database_url, f"UPDATE consents SET expires_at = '{FAR}' WHERE id = '{lengthened}'")
    for person, request_id, consent_id in ((residents[0], "gone-1", deleted), (residents[1], "longer-1", lengthened)):
        replay = httpx.post(url, headers=_bearer(token), json=envelope(person, request_id, consent_id=consent_id))
        assert replay.status_code == 403 and "data" not in replay.text, replay.text
        assert replay.json()["errors"][0]["pointer"] == "#/request_id"
        assert my_access_log(live_server, person)[0]["reason"] == "consent-missing"


def test_an_expired_consent_stops_replays_of_the_stored_answer(settings: Settings, live_server: str,
                                                              database_url: str, residents: list[DemoResident]) -> None:
    """A consent past its days gives nothing out again under an old request id, as under a new one."""
    token = client_token(settings)
    person = residents[0]
    consent_id = consent(live_server, person)
    url = f"{live_server}/api/v1/exchange/requests"
    assert httpx.post(url, headers=_bearer(token), json=envelope(person, "expire-1")).status_code == 200
    sql_rows(database_url, f"UPDATE consents SET expires_at = granted_at WHERE id = '{consent_id}'")  # its days passed
    fresh = httpx.post(url, headers=_bearer(token), json=envelope(person, "expire-2"))
    assert fresh.status_code == 403 and fresh.json()["type"] == "/problems/consent-required"
    replay = httpx.post(url, headers=_bearer(token), json=envelope(person, "expire-1"))
    assert replay.status_code == 403 and replay.json()["type"] == "/problems/consent-required", replay.text
    assert "data" not in replay.text and replay.json()["errors"][0]["pointer"] == "#/request_id"
    assert [(e["outcome"], e["reason"]) for e in my_access_log(live_server, person)][0] == ("denied", "consent-expired")


def test_a_replay_gives_out_only_what_the_live_catalog_still_allows(settings: Settings, live_server: str,
                                                                    residents: list[DemoResident]) -> None:
    """A stored answer is personal data handed out again: once a publication narrows the fields
    the matter receives, or withdraws the department, the old request id gets a 403, not the data."""
    token = client_token(settings)
    person = residents[0]
    consent(live_server, person)
    url = f"{live_server}/api/v1/exchange/requests"
    first = httpx.post(url, headers=_bearer(token), json=envelope(person, "narrow-1"))
    assert first.status_code == 200 and "property_count" in first.json()["answer"]["data"]
    document = load_catalog(bundled_catalog_path()).to_document()
    housing = next(m for m in document["matters"] if m["code"] == MATTER)
    next(p for p in housing["proofs"] if p["proof"] == PROOF)["fields"] = ["has_registered_property"]
    _publish(settings, document)
    replay = httpx.post(url, headers=_bearer(token), json=envelope(person, "narrow-1"))
    assert replay.status_code == 403 and replay.json()["type"].endswith("/forbidden-by-policy"), replay.status_code
    assert "has_registered_property" not in replay.json().get("answer", {})
    fresh = httpx.post(url, headers=_bearer(token), json=envelope(person, "narrow-2"))
    assert fresh.status_code == 200 and set(fresh.json()["answer"]["data"]) == {"has_registered_property"}

    housing["consumers"] = ["JY"]
    _publish(settings, document)
    withdrawn = httpx.post(url, headers=_bearer(token), json=envelope(person, "narrow-2"))
    assert withdrawn.status_code == 403 and withdrawn.json()["type"].endswith("/forbidden-by-policy")
    assert [e["outcome"] for e in my_access_log(live_server, person)][:3] == ["denied", "allowed", "denied"]


def test_a_publication_that_widens_a_matter_does_not_widen_the_consents_given(
        settings: Settings, live_server: str, residents: list[DemoResident], tmp_path: Path) -> None:
    """The citizen agreed after a preview listing three items of 无房证明. A later publication has
    the matter receive the whole record (the full ID number, the search record): her consent does
    not release it; the department is told to ask her again, and a consent given on the new
    preview, which lists the items, does. The publication says how many running consents it
    leaves short, so that nobody learns it from the refusals."""
    token = client_token(settings)
    person = residents[0]
    me = _bearer(assertion(live_server, person))
    preview = httpx.post(f"{live_server}/api/v1/me/consents/preview", headers=me,
                         json={"matter": MATTER, "proofs": [PROOF], "department": "ZJ", "days": 30})
    assert preview.status_code == 200, preview.text
    shown = preview.json()["proofs"][0]["items_zh"]
    given = consent(live_server, person)
    url = f"{live_server}/api/v1/exchange/requests"
    before = httpx.post(url, headers=_bearer(token), json=envelope(person, "widen-1", consent_id=given))
    assert before.status_code == 200 and len(before.json()["answer"]["data"]) == len(shown), before.text

    document = load_catalog(bundled_catalog_path()).to_document()
    housing = next(m for m in document["matters"] if m["code"] == MATTER)
    no_housing = next(p for p in document["proofs"] if p["code"] == PROOF)
    next(p for p in housing["proofs"] if p["proof"] == PROOF)["fields"] = [i["name"] for i in no_housing["data_items"]]
    (tmp_path / "catalog.json").write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    published = run_cli(cli_environment(settings.database_url, settings.var_dir), "catalog", "publish",
                        str(tmp_path / "catalog.json"))
    assert published.returncode == 0, published.stderr
    notice = next(line for line in published.stdout.splitlines() if housing["name_zh"] in line)
    assert re.search(r"(\d+) 份仍有效的授权", notice) and int(re.search(r"(\d+) 份", notice).group(1)) >= 1, notice
    after = httpx.post(url, headers=_bearer(token), json=envelope(person, "widen-2", consent_id=given))
    assert after.status_code == 403 and after.json()["type"] == "/problems/consent-required", after.text
    assert "data" not in after.text and person.id_number not in after.text
    assert my_access_log(live_server, person)[0]["reason"] == "consent-mismatch"
    unnamed = httpx.post(url, headers=_bearer(token), json=envelope(person, "widen-3"))  # any consent of hers
    assert unnamed.status_code == 403, unnamed.text

    again = consent(live_server, person)
    wider = httpx.post(url, headers=_bearer(token), json=envelope(person, "widen-4", consent_id=again))
    assert wider.status_code == 200 and wider.json()["answer"]["data"]["id_number"] == person.id_number, wider.text


@pytest.mark.parametrize("on_record", [True, False], ids=["record", "no-record"])
def test_a_consent_withdrawn_while_the_source_is_asked_stops_the_answer(
        settings: Settings, live_server: str, residents: list[DemoResident], monkeypatch: pytest.MonkeyPatch,
        on_record: bool) -> None:
    """The exchange allowed the pull on her consent and asked the source; while it answered, she
    withdrew the consent and was told it is withdrawn. The answer is not handed out, even one
    saying the source holds no record of her (for 无房证明 that is the answer): the department is
    refused as a pull after the withdrawal is, her log says so after the allowed access, and the
    same request again is decided anew (refused), not left busy."""
    person = residents[0] if on_record else DemoResident("王五", "11010519491231002X", None, "")
    given = consent(live_server, person)
    original = pull_service._query_all

    def withdrawn_while_asked(*args: Any, **kwargs: Any) -> Any:
        withdrawal = httpx.delete(f"{live_server}/api/v1/me/consents/{given}",
                                  headers=_bearer(assertion(live_server, person)))
        assert withdrawal.status_code == 200, withdrawal.text
        return original(*args, **kwargs)

    monkeypatch.setattr(pull_service, "_query_all", withdrawn_while_asked)
    url, token = f"{live_server}/api/v1/exchange/requests", client_token(settings)
    refused = httpx.post(url, headers=_bearer(token), json=envelope(person, "withdrawn-meanwhile", consent_id=given))
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/consent-required", refused.text
    assert "answer" not in refused.json() and "has_registered_property" not in refused.text
    monkeypatch.setattr(pull_service, "_query_all", original)
    assert [(entry["outcome"], entry["reason"]) for entry in my_access_log(live_server, person)][:2] == [
        ("denied", "consent-withdrawn"), ("allowed", None)]
    again = httpx.post(url, headers=_bearer(token), json=envelope(person, "withdrawn-meanwhile", consent_id=given))
    assert again.status_code == 403 and again.json()["type"] == "/problems/consent-required", again.text


@pytest.mark.parametrize(("on_record", "ended"), [(True, "revoked"), (False, "revoked"), (True, "rotated")],
                         ids=["record", "no-record", "rotated"])
def test_a_client_revoked_while_the_source_is_asked_is_not_handed_the_answer(
        settings: Settings, live_server: str, residents: list[DemoResident], monkeypatch: pytest.MonkeyPatch,
        on_record: bool, ended: str) -> None:
    """An operator revokes a department system's token (say it leaked), or replaces it with no
    grace (`client rotate`, the remedy for a lost token: the old one stops at once), while a
    request it sent is being answered by a slow source: the answer does not leave for it (401, as
    its next request gets), not even that the source holds no record, and the citizen's log says
    so after the allowed access."""
    person = residents[0] if on_record else DemoResident("王五", "11010519491231002X", None, "")
    consent(live_server, person)
    token = client_token(settings)
    original = pull_service._query_all

    def revoked_while_asked(*args: Any, **kwargs: Any) -> Any:
        with standalone_session(settings.database_url) as session:
            (revoke_client if ended == "revoked" else rotate_client)(session, token.split("_")[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(pull_service, "_query_all", revoked_while_asked)
    url = f"{live_server}/api/v1/exchange/requests"
    refused = httpx.post(url, headers=_bearer(token), json=envelope(person, "revoked-meanwhile"))
    assert refused.status_code == 401 and refused.json()["type"] == "/problems/unauthenticated", refused.text
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert "answer" not in refused.json() and "has_registered_property" not in refused.text
    monkeypatch.setattr(pull_service, "_query_all", original)
    assert [(entry["outcome"], entry["reason"]) for entry in my_access_log(live_server, person)][:2] == [
        ("denied", "unauthenticated"), ("allowed", None)]
    assert httpx.post(url, headers=_bearer(token), json=envelope(person, "revoked-meanwhile")).status_code == 401


def test_a_publication_that_drops_a_proof_running_consents_name_is_published_without_a_failure(
        settings: Settings, live_server: str, residents: list[DemoResident], tmp_path: Path) -> None:
    """A citizen consented to 公租房 reading her 未承租公房证明 (and 无房证明); a publication drops that
    proof from the matter, with the rule reading it. `catalog publish` says it published and exits
    0: a consent naming a proof the matter no longer receives releases nothing of it, so it is not
    short of anything the matter receives."""
    dropped = "NOT_RENTING_PUBLIC_HOUSING"
    consent(live_server, residents[0], [PROOF, dropped])
    document = load_catalog(bundled_catalog_path()).to_document()
    housing = next(m for m in document["matters"] if m["code"] == MATTER)
    housing["proofs"] = [entry for entry in housing["proofs"] if entry["proof"] != dropped]
    housing["rules"] = [rule for rule in housing["rules"] if "not_renting_public_housing" not in rule["expression"]]
    (tmp_path / "catalog.json").write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    published = run_cli(cli_environment(settings.database_url, settings.var_dir), "catalog", "publish",
                        str(tmp_path / "catalog.json"))
    assert published.returncode == 0 and "Traceback" not in published.stderr, published.stderr
    assert "已发布目录" in published.stdout and housing["name_zh"] not in published.stdout, published.stdout
    mine = httpx.get(f"{live_server}/api/v1/me/consents", headers=_bearer(assertion(live_server, residents[0])))
    assert mine.status_code == 200 and len(mine.json()) == 1, mine.text
    page = httpx.get(f"{live_server}/portal/consents", cookies={"mz_identity": assertion(live_server, residents[0])})
    assert page.status_code == 200 and "申请公租房一件事" in page.text


def _publish(settings: Settings, document: dict[str, Any]) -> None:
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, catalog_from_document(document), "目录管理员", None, Actor())


def test_a_request_id_held_by_an_attempt_that_stopped_says_when_a_repetition_takes_over(
        settings: Settings, live_server: str, residents: list[DemoResident]) -> None:
    """A worker died after claiming the request id: repetitions are told 409 with Retry-After, as
    while it is answered, and also when a repetition will take the claim over (2 minutes after
    it), so a department's system does not take "retry shortly" for a few seconds at most."""
    from exchange.answer_store import AnsweredRequest, RequestStatus

    token = client_token(settings)
    person = residents[0]
    consent(live_server, person)
    url = f"{live_server}/api/v1/exchange/requests"
    assert httpx.post(url, headers=_bearer(token), json=envelope(person, "died-1")).status_code == 200
    claimed = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=30)
    with standalone_session(settings.database_url) as session:  # as a worker killed after its claim leaves it
        session.execute(update(AnsweredRequest).where(AnsweredRequest.request_id == "died-1").values(
            status=RequestStatus.PENDING.value, answer_key_id=None, answer_blob=None, reserved_at=claimed))
    held = httpx.post(url, headers=_bearer(token), json=envelope(person, "died-1"))
    assert held.status_code == 409 and int(held.headers["retry-after"]) >= 1, held.text
    assert (claimed + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ") in held.json()["detail"], held.text


def test_identical_concurrent_requests_pull_once(settings: Settings, live_server: str,
                                                 residents: list[DemoResident]) -> None:
    token = client_token(settings)
    person = residents[0]
    consent(live_server, person)
    url = f"{live_server}/api/v1/exchange/requests"
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: httpx.post(url, headers=_bearer(token), json=envelope(person, "twice-1"),
                                                     timeout=60), range(8)))
    assert {a.status_code for a in answers} <= {200, 409} and 200 in {a.status_code for a in answers}
    assert all("retry-after" in a.headers for a in answers if a.status_code == 409)
    with standalone_session(settings.database_url) as session:
        pulls = session.query(AccessRecord).filter(AccessRecord.request_id == "twice-1", AccessRecord.outcome == "allowed",
                                                   AccessRecord.reason.is_(None)).count()
    assert pulls == 1  # one pull, however many arrived at once


def test_receipts_follow_a_rotation_of_the_exchange_seal_at_once(settings: Settings, live_server: str,
                                                                 residents: list[DemoResident]) -> None:
    """The server caches parsed seal certificates, never which seal is active: after the seal
    officer rotates the exchange's seal, the very next receipt is signed with the new one."""
    token, person = client_token(settings), residents[0]
    consent(live_server, person)

    def receipt_kid(request_id: str) -> str:
        response = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                              json=envelope(person, request_id))
        assert response.status_code == 200, response.text
        header = response.json()["receipt"].split(".")[0]
        return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]

    with standalone_session(settings.database_url) as session:
        before = active_seal(session, settings.exchange_department).kid
    assert receipt_kid("rotation-1") == before
    with standalone_session(settings.database_url) as session:
        after = rotate_seal(session, seal_settings(settings), settings.exchange_department).kid
    assert after != before
    assert receipt_kid("rotation-2") == after


def test_no_receipt_is_sealed_after_its_seals_revocation_time(settings: Settings, live_server: str,
                                                               residents: list[DemoResident]) -> None:
    """A revocation takes as its time the next whole second after it locks the seal, and commits
    a moment later: a request answered in between would carry a receipt sealed after the
    revocation time, which every verifier then calls revoked. Such a request waits for the
    revocation and is refused (503): a receipt is sealed before its seal's revocation or not at all."""
    token, person = client_token(settings), residents[0]
    consent(live_server, person)
    response, _kid, revoked_at = while_revoking(settings, settings.exchange_department, lambda: httpx.post(
        f"{live_server}/api/v1/exchange/requests", headers=_bearer(token), json=envelope(person, "revoking-1"),
        timeout=60))
    if response.status_code == 200:
        assert datetime.fromisoformat(response.json()["answer"]["answered_at"]) < revoked_at, response.text
    else:
        assert response.status_code == 503 and "receipt" not in response.json(), response.text


def test_no_access_log_head_is_signed_after_its_seals_revocation_time(settings: Settings, live_server: str,
                                                                     residents: list[DemoResident]) -> None:
    """As a receipt: an auditor fetching the signed head while the exchange's seal is being
    revoked gets a head signed before the revocation, or 503; never one `audit verify
    --signed-head` rejects as signed by a revoked seal."""
    token, person = client_token(settings), residents[0]
    consent(live_server, person)
    assert httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                      json=envelope(person, "head-1")).status_code == 200
    response, revoked_kid, revoked_at = while_revoking(settings, settings.exchange_department, lambda: httpx.get(
        f"{live_server}/api/v1/trust/access-log-head", timeout=60))
    if response.status_code == 200:
        header = json.loads(base64.urlsafe_b64decode(response.json()["signed_head"].split(".")[0] + "=="))
        signed_at = datetime.fromisoformat(response.json()["signed_at"])
        assert header["kid"] != revoked_kid or signed_at < revoked_at, (header["kid"], signed_at, revoked_at)
    else:
        assert response.status_code == 503, response.text


def test_a_revoked_exchange_seal_signs_no_receipt_from_the_next_request_on(settings: Settings, live_server: str,
                                                                            residents: list[DemoResident]) -> None:
    """The server keeps the signer of a seal it has used, never which seal is active: once the seal
    officer revokes the exchange's seal, the very next request gets no receipt under it, and once
    a new seal is issued, the next receipt carries that one. In between, the exchange says it cannot
    sign for now (503, Retry-After), not that something is missing; the pull it could not answer is
    logged as failed and its request id freed, so the department's retry with the same id is
    answered as soon as a seal is there again."""
    token, person = client_token(settings), residents[0]
    consent(live_server, person)
    department = settings.exchange_department

    def pull(request_id: str) -> httpx.Response:
        return httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                          json=envelope(person, request_id))

    with standalone_session(settings.database_url) as session:
        revoked_kid = active_seal(session, department).kid
    assert _receipt_kid(pull("revocation-1")) == revoked_kid  # the signer is built and kept
    with standalone_session(settings.database_url) as session:
        revoke_seal(session, seal_settings(settings), department, RevocationReason.KEY_COMPROMISE)
    refused = pull("revocation-2")
    assert refused.status_code == 503 and refused.json()["type"].endswith("/service-unavailable")
    assert "receipt" not in refused.json() and int(refused.headers["Retry-After"]) > 0
    with standalone_session(settings.database_url) as session:
        old = session.scalars(select(Seal).where(Seal.kid == revoked_kid)).one()
        new_kid = issue_seal(session, seal_settings(settings), department_code=department,
                             department_name=old.department_name, uscc=old.uscc).kid
    assert _receipt_kid(pull("revocation-3")) == new_kid != revoked_kid
    assert _receipt_kid(pull("revocation-2")) == new_kid  # the same request id, tried again
    with standalone_session(settings.database_url) as session:
        logged = session.execute(select(AccessRecord.outcome, AccessRecord.reason)
                                 .where(AccessRecord.request_id == "revocation-2").order_by(AccessRecord.seq)).all()
    assert [tuple(row) for row in logged] == [("allowed", None), ("failed", "internal-error"), ("allowed", None)]


def test_a_revoked_client_is_refused_from_its_next_request_on(settings: Settings, live_server: str,
                                                              residents: list[DemoResident]) -> None:
    """A client's credentials are checked against its stored row on every request: revoking it (or
    rotating its secret) counts from the very next request of a server that has just served it."""
    person = residents[0]
    consent(live_server, person)
    env = cli_environment(settings.database_url, settings.var_dir)
    rotated_token, revoked_token = client_token(settings), client_token(settings)

    def pull(token: str, request_id: str) -> httpx.Response:
        return httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(token),
                          json=envelope(person, request_id))

    assert pull(rotated_token, "suspend-1").status_code == 200
    assert pull(revoked_token, "suspend-2").status_code == 200
    assert run_cli(env, "client", "rotate", rotated_token.split("_")[1]).returncode == 0
    assert run_cli(env, "client", "revoke", revoked_token.split("_")[1]).returncode == 0
    for token, request_id in ((rotated_token, "suspend-3"), (revoked_token, "suspend-4")):
        refused = pull(token, request_id)
        assert refused.status_code == 401 and refused.json()["type"].endswith("/unauthenticated")


def _receipt_kid(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    header = response.json()["receipt"].split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
