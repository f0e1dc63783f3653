"""Input an attacker would send: each answer is a clear 4xx problem (or, for a certificate, a
verdict), never a 500, and nothing is done before the input is refused."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path

import httpx
import pytest

from api.secrets import SUBJECT_HASH_KEY, read_secret
from api.settings import Settings
from api.token_bucket import VALIDATION_BURST, VALIDATION_RATE_PER_SECOND
from catalog.loading import bundled_catalog_path, load_catalog
from exchange.clients import ClientScope
from demo.data import DemoResident, sample_residents
from exchange.subjects import subject_key
from core.base64url import b64url_encode
from tests.api.test_certificates_api import client_token, issue, signed_in
from tests.support.cli import cli_environment, run_cli

PROBLEM = "application/problem+json"
NESTED = "[" * 5000 + "]" * 5000


@pytest.fixture
def resident(settings: Settings) -> DemoResident:
    return sample_residents(settings.sources_dir, 1)[0]


def refused(response: httpx.Response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()


def nested_token(nested_part: int) -> str:
    """A compact JWS whose header (0) or payload (1) is JSON nested 3,000 levels deep."""
    parts = [b64url_encode(b'{"alg":"ES256"}'), b64url_encode(b'{"iss":"x"}'), b64url_encode(b"\0" * 64)]
    parts[nested_part] = b64url_encode(b'{"iss":' + b"[" * 3000 + b"]" * 3000 + b"}")
    return ".".join(parts)


def test_json_body_nested_thousands_deep_is_refused_before_parsing(live_server: str, resident: DemoResident) -> None:
    me = signed_in(live_server, resident)
    for path, headers in (("/api/v1/verify", {}), ("/api/v1/me/consents", me), ("/dev-idp/token", {})):
        body = refused(httpx.post(live_server + path, content=NESTED, headers={**headers, "content-type": "application/json"}))
        assert body["errors"] == [{"pointer": "#", "detail": "the JSON text is nested more than 32 levels deep"}]


@pytest.mark.parametrize(("body", "status"), [(NESTED, 400), ("x" * (2 * 1024 * 1024 + 1), 413)])
def test_an_exchange_request_refused_for_its_body_is_answered_and_logged(settings: Settings, live_server: str,
                                                                         body: str, status: int) -> None:
    """A department system's body nested too deep, or too large: the problem says so (not a 500
    from logging the refusal), and the refusal is in the access log like every exchange request."""
    from api.database import standalone_session
    from exchange.access_log import NOT_ACCESSES, AccessRecord

    token = client_token(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    answer = httpx.post(f"{live_server}/api/v1/exchange/requests", content=body, timeout=30,
                        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"})
    problem = refused(answer, status)
    assert problem["status"] == status
    with standalone_session(settings.database_url) as session:
        entries = session.query(AccessRecord).filter(AccessRecord.consumer_department == "ZJ",
                                                     AccessRecord.outcome.not_in(NOT_ACCESSES)).all()
    assert [(entry.outcome, entry.reason) for entry in entries] == [("denied", "invalid-request")]


def test_a_request_id_made_of_an_id_number_is_refused(settings: Settings, live_server: str,
                                                      resident: DemoResident) -> None:
    """A department keying its request ids on the citizen's number would leave the number in clear
    where answered requests are kept (and in applications): refused, naming the field, nothing
    stored."""
    from tests.support.sql import sql_rows

    token = client_token(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST, ClientScope.APPLICATIONS_WRITE])
    headers = {"Authorization": f"Bearer {token}"}
    for request_id in (resident.id_number, f"zj.{resident.id_number}.1"):
        answer = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=headers, timeout=30,
                            json=exchange_request(resident, request_id=request_id))
        assert refused(answer, 400)["errors"][0]["pointer"] == "#/request_id", answer.text
    filed = httpx.post(f"{live_server}/api/v1/matters/PUBLIC_RENTAL_HOUSING/applications", headers=headers, timeout=30,
                       json={"request_id": resident.id_number, "caseworker_id": "zj-1", "case_number": "C-1",
                             "applicant": {"name": resident.name, "id_number": resident.id_number}})
    assert any(error["pointer"] == "#/request_id" for error in refused(filed, 400)["errors"]), filed.text
    stored = sql_rows(settings.database_url, "SELECT request_id FROM exchange_requests") + \
        sql_rows(settings.database_url, "SELECT request_id FROM applications")
    assert not any(resident.id_number in str(row) for row in stored)


@pytest.mark.parametrize("nested_part", [0, 1])
def test_forged_identity_assertion_with_nested_json_is_unauthenticated(live_server: str, nested_part: int) -> None:
    token = nested_token(nested_part)
    assert len(token) < 8192
    refused(httpx.get(f"{live_server}/api/v1/me/consents", headers={"Authorization": f"Bearer {token}"}), 401)
    page = httpx.get(f"{live_server}/portal", cookies={"mz_identity": token})
    assert page.status_code == 200 and "登录" in page.text  # treated as signed out


@pytest.mark.parametrize("nested_part", [0, 1])
def test_credential_with_nested_json_is_malformed(live_server: str, tmp_path: Path, nested_part: int,
                                                  settings: Settings) -> None:
    credential = nested_token(nested_part)
    verdict = httpx.post(f"{live_server}/api/v1/verify", json={"credential": credential}, timeout=30)
    assert verdict.status_code == 200, verdict.text
    assert verdict.json()["status"] == "INVALID" and verdict.json()["checks"][0]["code"] == "malformed"
    page = httpx.post(f"{live_server}/verify", data={"credential": credential}, timeout=30)
    assert page.status_code == 200 and "无法读取" in page.text  # nothing of it could be read

    env = cli_environment(settings.database_url, settings.var_dir)
    trust = tmp_path / "trust"
    assert run_cli(env, "seal", "export-trust", str(trust)).returncode == 0
    (tmp_path / "nested.jws").write_text(credential, encoding="ascii")
    result = run_cli(env, "verify", str(tmp_path / "nested.jws"), "--trust", str(trust))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "结论：证明无效。" in result.stdout.splitlines()


@pytest.mark.parametrize("iat", ["1e300", "NaN", "-Infinity", str(2**80)])
def test_a_credential_claiming_a_signing_time_no_calendar_has_is_malformed(
        live_server: str, resident: DemoResident, settings: Settings, tmp_path: Path, iat: str) -> None:
    """A genuine certificate's header and signature over a payload whose `iat` is no time (too large,
    not a number): no key is needed to send it; every verifier says 无效, none fails."""
    me = signed_in(live_server, resident)
    certificate = issue(live_server, me)
    header, payload, signature = httpx.get(live_server + certificate["links"]["jws"], headers=me).text.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_payload = json.dumps({**claims, "iat": 0}, ensure_ascii=False).replace('"iat": 0', f'"iat": {iat}')
    credential = f"{header}.{b64url_encode(forged_payload.encode())}.{signature}"
    verdict = httpx.post(f"{live_server}/api/v1/verify", json={"credential": credential}, timeout=30)
    assert verdict.status_code == 200, verdict.text
    integrity = verdict.json()["checks"][0]
    assert verdict.json()["status"] == "INVALID" and integrity["status"] == "INVALID"
    assert integrity["code"] in ("malformed", "not_a_certificate")  # the payload's time, or the content reading it
    page = httpx.post(f"{live_server}/verify", data={"credential": credential}, timeout=30)
    assert page.status_code == 200 and "无效" in page.text

    env = cli_environment(settings.database_url, settings.var_dir)
    assert run_cli(env, "seal", "export-trust", str(tmp_path / "trust")).returncode == 0
    (tmp_path / "forged.jws").write_text(credential, encoding="ascii")
    result = run_cli(env, "verify", str(tmp_path / "forged.jws"), "--trust", str(tmp_path / "trust"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "结论：证明无效。" in result.stdout.splitlines()


@pytest.mark.parametrize("path", ["/api/v1/applications?status=waiting", "/api/v1/catalog/versions?limit=1",
                                  "/api/v1/statistics/licenses?month=2026-11", "/api/v1/catalog?x=1",
                                  "/api/v1/catalog/licenses?holder=person", "/api/v1/trust/seals?department=BDC"])
def test_a_query_parameter_the_endpoint_does_not_take_is_named_not_ignored(
        live_server: str, settings: Settings, path: str) -> None:
    """A department system filtering `?status=waiting` must not be handed every application as if
    they were the waiting ones: an endpoint without that parameter says so (400, naming it)."""
    token = client_token(settings, "ZJ", [ClientScope.APPLICATIONS_WRITE.value])
    answer = httpx.get(live_server + path, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    parameter = path.split("?")[1].split("=")[0]
    assert answer.json()["errors"] == [{"parameter": parameter, "detail": answer.json()["errors"][0]["detail"]}]
    assert httpx.get(live_server + path.split("?")[0], headers={"Authorization": f"Bearer {token}"}).status_code != 400
    for probe in ("/healthz", "/readyz"):  # a load balancer's probe may add its own parameters
        assert httpx.get(f"{live_server}{probe}?from=lb").status_code == 200


def test_a_caller_without_credentials_is_told_so_whatever_the_query(live_server: str) -> None:
    """The caller is judged before the input: a monitor's "no credentials gives 401" check, or a
    client that forgot its token, is told to authenticate, not that a parameter is wrong."""
    paths = ["/api/v1/applications?x=1", "/api/v1/applications/a?x=1", "/api/v1/commitments/c?x=1",
             "/api/v1/me/certificates?x=1", "/api/v1/certificates/1.2.pdf?x=1", "/api/v1/licenses/L?x=1",
             "/api/v1/licenses/L/pdf?x=1", "/api/v1/me/licenses?x=1", "/api/v1/me/licenses/L/credential?x=1",
             "/api/v1/me/licenses/L/pdf?x=1", "/api/v1/me/consents?x=1", "/api/v1/org/licenses?x=1",
             "/api/v1/org/licenses/L/credential?x=1", "/api/v1/org/licenses/L/pdf?x=1",
             "/api/v1/org/access-log?limit=0", "/api/v1/me/access-log?limit=1&limit=2", "/api/v1/tasks?x=1"]
    answers = {path: httpx.get(live_server + path).status_code for path in paths}
    answers["DELETE /api/v1/me/consents/c?x=1"] = httpx.delete(f"{live_server}/api/v1/me/consents/c?x=1").status_code
    assert set(answers.values()) == {401}, answers


@pytest.mark.parametrize("path", ["/api/v1/catalog/proofs?q=无房&q=收入", "/api/v1/tasks?status=open&status=done"])
def test_a_parameter_given_twice_is_named_not_guessed(live_server: str, settings: Settings, path: str) -> None:
    token = client_token(settings, "ZJ", [ClientScope.APPLICATIONS_WRITE.value])
    answer = httpx.get(live_server + path, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400, answer.text
    parameter = path.split("?")[1].split("=")[0]
    assert [error["parameter"] for error in answer.json()["errors"]] == [parameter], answer.text


def test_pdf_with_a_malformed_signing_time_gets_a_verdict(live_server: str, resident: DemoResident) -> None:
    me = signed_in(live_server, resident)
    certificate = issue(live_server, me)
    pdf = httpx.get(live_server + certificate["links"]["pdf"], headers=me).content
    position = pdf.index(b"/M (D\\072") + len(b"/M (D\\072")
    tampered = pdf[:position] + b"X" + pdf[position + 1:]
    verdict = httpx.post(f"{live_server}/api/v1/verify", json={"pdf_base64": base64.b64encode(tampered).decode()},
                         timeout=30)
    assert verdict.status_code == 200, verdict.text
    assert verdict.json()["status"] == "INVALID"
    page = httpx.post(f"{live_server}/verify", files={"pdf": ("c.pdf", tampered, "application/pdf")}, timeout=30)
    assert page.status_code == 200 and "无法读取" in page.text and "有效 VALID" not in page.text


def test_non_ascii_base64_is_an_input_error(live_server: str) -> None:
    body = refused(httpx.post(f"{live_server}/api/v1/verify", json={"pdf_base64": "\u00a7"}))
    assert body["errors"][0]["pointer"] == "#/pdf_base64"


@pytest.mark.parametrize("query", ["from=0000-01", "from=0001-01", "to=9999-12"])
def test_months_outside_the_calendar_are_input_errors(live_server: str, query: str) -> None:
    body = refused(httpx.get(f"{live_server}/api/v1/statistics?{query}"))
    assert body["errors"][0]["parameter"] == query.partition("=")[0]
    assert httpx.get(f"{live_server}/statistics?{query}").status_code == 400


def test_access_log_offset_beyond_64_bits(live_server: str, resident: DemoResident) -> None:
    me = signed_in(live_server, resident)
    body = refused(httpx.get(f"{live_server}/api/v1/me/access-log?offset=9223372036854775808", headers=me))
    assert body["errors"][0]["parameter"] == "offset"
    cookie = {"mz_identity": me["Authorization"].removeprefix("Bearer ")}
    page = httpx.get(f"{live_server}/portal/access-log?offset=9223372036854775808", cookies=cookie)
    assert page.status_code == 200


def test_an_access_log_page_past_the_end_says_so_and_leads_back(settings: Settings, live_server: str,
                                                                 resident: DemoResident) -> None:
    """Not "共 1 条" above "还没有部门使用过您的数据": the page past the end says it holds none
    of them, and links back to the first."""
    token = client_token(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    httpx.post(f"{live_server}/api/v1/exchange/requests", headers={"Authorization": f"Bearer {token}"},
               json=exchange_request(resident))  # refused (no consent), and logged where the citizen sees it
    cookie = {"mz_identity": signed_in(live_server, resident)["Authorization"].removeprefix("Bearer ")}
    page = httpx.get(f"{live_server}/portal/access-log?offset=500", cookies=cookie).text
    assert "共 1 条" in page and "还没有部门使用过您的数据" not in page
    assert 'href="/portal/access-log"' in page


def exchange_request(person: DemoResident, **changes: str) -> dict:
    body = {"request_id": "hostile-1", "caseworker_id": "zj-0042", "case_number": "GZF-2026-000123",
            "matter": "PUBLIC_RENTAL_HOUSING", "proof": "NO_HOUSING", "purpose": "公租房资格审核",
            "subject": {"id_number": person.id_number, "name": person.name}}
    for key, value in changes.items():
        if key == "name":
            body["subject"]["name"] = value
        else:
            body[key] = value
    return body


def _post_json(base: str, path: str, headers: dict[str, str], body: dict) -> httpx.Response:
    """POST `body` as JSON written by the standard library, which keeps lone surrogates escaped."""
    return httpx.post(base + path, headers={**headers, "content-type": "application/json"},
                      content=json.dumps(body).encode("ascii"), timeout=30)


@pytest.mark.parametrize("bad", ["\ud800", "a\x00b"], ids=["lone-surrogate", "nul"])
def test_unusable_text_is_refused_before_any_source_is_asked(live_server: str, settings: Settings,
                                                              resident: DemoResident, bad: str) -> None:
    me = signed_in(live_server, resident)
    body = refused(_post_json(live_server, "/api/v1/me/certificates", me,
                              {"proof": "NO_HOUSING", "purpose": f"申请{bad}"}))
    assert body["errors"][0]["pointer"] == "#/purpose"
    assert httpx.get(f"{live_server}/api/v1/me/certificates", headers=me).json() == []

    client = {"Authorization": f"Bearer {client_token(settings, 'ZJ', [ClientScope.EXCHANGE_REQUEST])}"}
    for field, pointer in (("name", "#/subject/name"), ("caseworker_id", "#/caseworker_id"),
                           ("case_number", "#/case_number"), ("purpose", "#/purpose")):
        body = refused(_post_json(live_server, "/api/v1/exchange/requests", client,
                                  exchange_request(resident, **{field: f"x{bad}"})))
        assert body["errors"][0]["pointer"] == pointer
    assert httpx.get(f"{live_server}/api/v1/me/access-log", headers=me).json()["total"] == 0
    # the request id was not claimed: the well-formed request is answered, not a conflict
    answer = _post_json(live_server, "/api/v1/exchange/requests", client, exchange_request(resident))
    assert answer.status_code != 409 and answer.status_code < 500, answer.text


def test_nul_in_the_path_or_query_is_refused(live_server: str) -> None:
    assert refused(httpx.get(f"{live_server}/api/v1/catalog/proofs?q=a%00b"))["errors"][0]["parameter"] == "q"
    refused(httpx.get(f"{live_server}/api/v1/certificates/a%00b.pdf"))
    assert httpx.get(f"{live_server}/catalog?q=a%00b").status_code == 400


def test_a_number_written_in_other_digits_is_refused(live_server: str, resident: DemoResident) -> None:
    """Python reads full-width (５) and Arabic-Indic (٥) digits as numbers: a page size given so
    was taken, and status list １ answered as a second address of list 1."""
    me = signed_in(live_server, resident)
    for digits in ("５", "٥"):
        problem = refused(httpx.get(f"{live_server}/api/v1/me/access-log", params={"limit": digits}, headers=me))
        assert problem["errors"][0]["parameter"] == "limit", problem
        assert httpx.get(f"{live_server}/api/v1/status-lists/{digits.replace('５', '１')}").status_code == 404
    assert httpx.get(f"{live_server}/api/v1/me/access-log", params={"limit": "5"}, headers=me).status_code == 200
    assert httpx.get(f"{live_server}/api/v1/status-lists/1").status_code == 200
    assert httpx.get(f"{live_server}/api/v1/status-lists/01").status_code == 404  # one address per list
    issue(live_server, me)  # an entry in her log: a page from １ on would leave it out
    portal = httpx.Client(base_url=live_server, cookies={"mz_identity": me["Authorization"].split()[1]}, timeout=30)
    first, other = (portal.get("/portal/access-log", params={"offset": offset}).text for offset in ("0", "１"))
    assert other.count("<tr") == first.count("<tr") > 1


@pytest.mark.parametrize("escaped", ["%FF", "%ED%A0%80", "a%C3"], ids=["not-utf8", "surrogate", "cut-short"])
def test_a_path_or_query_that_is_not_utf8_is_refused_not_read_as_something_else(live_server: str,
                                                                                 escaped: str) -> None:
    """Bytes that are no UTF-8 text (a lone surrogate written as UTF-8, a byte cut short) were
    read as U+FFFD and searched for: a 200 for text the client never sent."""
    assert refused(httpx.get(f"{live_server}/api/v1/catalog/proofs?q={escaped}"))["errors"][0]["parameter"] == "q"
    refused(httpx.get(f"{live_server}/api/v1/certificates/{escaped}.pdf"))
    assert httpx.get(f"{live_server}/catalog?q={escaped}").status_code == 400


def test_household_book_can_be_issued_without_printing_members_id_numbers(live_server: str,
                                                                         resident: DemoResident) -> None:
    me = signed_in(live_server, resident)
    certificate = issue(live_server, me, proof="HOUSEHOLD_BOOK")
    credential = httpx.get(live_server + certificate["links"]["jws"], headers=me).text
    claims = json.loads(base64.urlsafe_b64decode(credential.split(".")[1] + "=="))
    members = next(f for f in claims["fields"] if f["name"] == "members")
    assert resident.name in members["text_zh"]
    assert resident.id_number not in json.dumps(claims, ensure_ascii=False)
    assert all("*" in member["id_number"] for member in members["value"])


def test_catalog_validation_is_for_the_catalog_administrator_and_rate_limited(live_server: str,
                                                                              settings: Settings) -> None:
    url = f"{live_server}/api/v1/catalog/validation"
    document = load_catalog(bundled_catalog_path()).to_document()
    assert refused(httpx.post(url, json=document), 401)["type"] == "/problems/unauthenticated"
    department = client_token(settings, "SJ", [ClientScope.EXCHANGE_REQUEST])
    refused(httpx.post(url, json=document, headers={"Authorization": f"Bearer {department}"}), 403)

    admin = {"Authorization": f"Bearer {client_token(settings, 'SJ', [ClientScope.CATALOG_ADMIN])}"}
    without_exchange = {**document, "departments": [d for d in document["departments"] if d["code"] != "SJ"]}
    started = time.monotonic()  # the bucket is full, and refills at its rate from here
    body = refused(httpx.post(url, json=without_exchange, headers=admin, timeout=30))  # publishing it would be refused
    assert [(e["entry"], e["field"]) for e in body["errors"]] == [("SJ", "code")], body
    document["matters"][0]["rules"][0]["expression"] = "(" * 20_000 + "true" + ")" * 20_000
    body = refused(httpx.post(url, json=document, headers=admin, timeout=30))
    assert [e["detail"] for e in body["errors"]] == ["must have at most 2000 characters"]
    statuses = [400, 400]
    while statuses[-1] != 429 and len(statuses) < VALIDATION_BURST + 20:
        statuses.append(httpx.post(url, json=document, headers=admin, timeout=30).status_code)
    refilled = int((time.monotonic() - started) * VALIDATION_RATE_PER_SECOND)  # on a slow machine, a few
    assert statuses[-1] == 429 and set(statuses[:-1]) == {400}, statuses
    assert VALIDATION_BURST <= len(statuses) - 1 <= VALIDATION_BURST + refilled, (statuses, refilled)


def test_authentication_and_scope_come_before_the_body(live_server: str, settings: Settings) -> None:
    """An unauthenticated caller learns nothing about the fields: 401 (or 403), never 400."""
    for method, path in (("POST", "/api/v1/exchange/requests"), ("POST", "/api/v1/me/consents"),
                         ("POST", "/api/v1/me/certificates"), ("GET", "/api/v1/me/access-log?offset=-1"),
                         ("POST", "/api/v1/matters/PUBLIC_RENTAL_HOUSING/applications"),
                         ("POST", "/api/v1/tasks/x/result"), ("GET", "/api/v1/commitments?status=nonsense"),
                         ("POST", "/api/v1/certificates/x/revocation")):
        kwargs = {"json": {"unexpected": True}} if method == "POST" else {}
        assert refused(httpx.request(method, live_server + path, **kwargs), 401).get("errors") is None, path
    wrong_scope = {"Authorization": f"Bearer {client_token(settings, 'ZJ', [ClientScope.CERTIFICATES_REVOKE])}"}
    refused(httpx.post(f"{live_server}/api/v1/exchange/requests", json={}, headers=wrong_scope), 403)


def test_logs_carry_no_id_number_subject_key_credential_or_qr_payload(
        live_server: str, settings: Settings, resident: DemoResident, caplog: pytest.LogCaptureFixture) -> None:
    """After a run of ordinary and hostile requests, the log holds none of the secrets involved."""
    caplog.set_level(logging.DEBUG)
    me = signed_in(live_server, resident)
    assertion = me["Authorization"].removeprefix("Bearer ")
    certificate = issue(live_server, me)
    credential = httpx.get(live_server + certificate["links"]["jws"], headers=me).text
    qr = httpx.get(live_server + certificate["links"]["qr"], headers=me).text
    token = client_token(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    client = {"Authorization": f"Bearer {token}"}
    broken_qr, broken_credential = qr[:-3] + "000", credential[:-6] + "AAAAAA"
    for body in ({"qr": qr, "id_number": resident.id_number}, {"credential": credential},
                 {"qr": broken_qr, "id_number": resident.id_number}, {"credential": broken_credential},
                 {"credential": nested_token(1)}, {"pdf_base64": "\u00a7"}):
        assert httpx.post(f"{live_server}/api/v1/verify", json=body, timeout=30).status_code < 500
    httpx.post(f"{live_server}/verify", data={"qr": broken_qr, "id_number": resident.id_number}, timeout=30)
    for bad in ("a\x00b", "\ud800"):
        _post_json(live_server, "/api/v1/exchange/requests", client, exchange_request(resident, purpose=bad))
    httpx.post(f"{live_server}/api/v1/exchange/requests", headers=client, json=exchange_request(resident), timeout=30)
    httpx.get(f"{live_server}/api/v1/me/consents", headers={"Authorization": f"Bearer {assertion[:-5]}xxxxx"})
    httpx.get(f"{live_server}/api/v1/me/consents", headers={"Authorization": f"Bearer {token[:-5]}xxxxx"})

    logged = caplog.text
    assert logged  # the server did log the requests
    secrets = {"ID number": resident.id_number, "subject key": subject_key(read_secret(settings, SUBJECT_HASH_KEY),
                                                                             resident.id_number),
               "client token": token[-20:], "assertion": assertion.split(".")[1][:24],
               "credential": credential.split(".")[2][:24], "QR payload": qr[4:28]}
    for name, secret in secrets.items():
        assert secret not in logged, name
