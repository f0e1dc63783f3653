"""E-certificates over HTTP as citizens, issuing departments and verifiers use them: issue a
无房证明, download its three forms, verify each with the same verdict, revoke it, and the
problems for everything else."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from flask import Flask
from sqlalchemy import text

from api.database import standalone_session
from api.settings import Settings
from api.token_bucket import VERIFY_BURST, VERIFY_RATE_PER_SECOND
from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog
from catalog.versions import read_live_catalog
from exchange.operations import Actor, publish_recorded
from core.base64url import b64url_decode
from exchange.clients import ClientScope, register_client
from demo.data import DemoResident, sample_residents
from tests.support.cli import cli_environment, run_cli
from tests.support.pdf_tools import require_tool
from tests.support.clock import ManualClock


@pytest.fixture
def resident(settings: Settings) -> DemoResident:
    return sample_residents(settings.sources_dir, 1)[0]


def signed_in(base: str, person: DemoResident) -> dict[str, str]:
    response = httpx.post(f"{base}/dev-idp/token", json={"name": person.name, "id_number": person.id_number})
    return {"Authorization": f"Bearer {response.json()['assertion']}"}


def issue(base: str, headers: dict[str, str], proof: str = "NO_HOUSING") -> dict:
    response = httpx.post(f"{base}/api/v1/me/certificates", headers=headers,
                          json={"proof": proof, "purpose": "申请公租房"}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def client_token(settings: Settings, department: str, scopes: list[str]) -> str:
    with standalone_session(settings.database_url) as session:
        _, token = register_client(session, read_live_catalog(session), department, "证明管理系统", scopes)
    return token


def verdict(base: str, **body: str) -> dict:
    response = httpx.post(f"{base}/api/v1/verify", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def checks(result: dict) -> dict[str, tuple[str, str]]:
    return {c["check"]: (c["status"], c["code"]) for c in result["checks"]}


def test_issue_download_verify_and_revoke(settings: Settings, live_server: str, resident: DemoResident) -> None:
    me = signed_in(live_server, resident)
    issuable = httpx.get(f"{live_server}/api/v1/me/issuable-proofs").json()
    assert issuable[0]["online_issue"] and "NO_HOUSING" in {p["code"] for p in issuable}

    response = httpx.post(f"{live_server}/api/v1/me/certificates", headers=me,
                          json={"proof": "NO_HOUSING", "purpose": "申请公租房"}, timeout=30)
    assert response.status_code == 201, response.text
    certificate = response.json()
    assert response.headers["location"] == certificate["links"]["pdf"]  # the sealed document made
    assert certificate["issuer_name_zh"] == "金华市不动产登记中心" and certificate["status"] == "valid"
    assert certificate["identifier"].startswith("1.2.156.3005.2.")
    assert [c["identifier"] for c in httpx.get(f"{live_server}/api/v1/me/certificates", headers=me).json()] == \
           [certificate["identifier"]]

    pdf = httpx.get(live_server + certificate["links"]["pdf"], headers=me)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    credential = httpx.get(live_server + certificate["links"]["jws"], headers=me).text
    qr = httpx.get(live_server + certificate["links"]["qr"], headers=me).text
    assert qr.startswith("MZ2:")

    forms = [verdict(live_server, pdf_base64=base64.b64encode(pdf.content).decode(), id_number=resident.id_number),
             verdict(live_server, credential=credential, id_number=resident.id_number),
             verdict(live_server, qr=qr, id_number=resident.id_number)]
    assert [f["status"] for f in forms] == ["VALID"] * 3
    assert checks(forms[0]) == checks(forms[1]) == checks(forms[2])
    assert checks(forms[0])["holder_binding"] == ("VALID", checks(forms[0])["holder_binding"][1])
    assert resident.id_number not in str(forms)

    other_department = client_token(settings, "GA", [ClientScope.CERTIFICATES_REVOKE])
    refused = httpx.post(f"{live_server}/api/v1/certificates/{certificate['identifier']}/revocation",
                         headers={"Authorization": f"Bearer {other_department}"}, json={"reason": "issued_in_error"})
    assert refused.status_code == 404
    made_up = certificate["identifier"][:-4] + ("0000" if not certificate["identifier"].endswith("0000") else "1111")
    unknown = httpx.post(f"{live_server}/api/v1/certificates/{made_up}/revocation",
                         headers={"Authorization": f"Bearer {other_department}"}, json={"reason": "issued_in_error"})
    assert unknown.status_code == 404  # another department's certificate reads as none: nothing says it exists
    assert {**refused.json(), "instance": None} == \
        {**unknown.json(), "instance": None, "detail": unknown.json()["detail"].replace(made_up, certificate["identifier"])}
    registry = client_token(settings, "BDC", [ClientScope.CERTIFICATES_REVOKE])
    before = httpx.get(f"{live_server}/api/v1/status-lists/1")
    revalidated = httpx.get(f"{live_server}/api/v1/status-lists/1", headers={"If-None-Match": before.headers["etag"]})
    assert before.headers["cache-control"] == "no-cache" and revalidated.status_code == 304
    revoked = httpx.post(f"{live_server}/api/v1/certificates/{certificate['identifier']}/revocation",
                         headers={"Authorization": f"Bearer {registry}"}, json={"reason": "data_changed"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"

    after = verdict(live_server, credential=credential)
    assert after["status"] == "INVALID"
    assert checks(after)["certificate_status"][0] == "INVALID"
    assert after["revocation_reason"] == "data_changed"
    assert verdict(live_server, qr=qr)["revocation_reason"] == "data_changed"
    status_list = httpx.get(f"{live_server}/api/v1/status-lists/1", headers={"If-None-Match": before.headers["etag"]})
    assert status_list.status_code == 200, "a cache revalidating sees the revocation at once"
    assert status_list.headers["content-type"] == "application/jwt" and status_list.text.count(".") == 2


def _resealed(settings: Settings, credential: str, department: str, **changes: object) -> str:
    """`credential` with `changes` to its claims, sealed again with `department`'s own seal: what a
    department holding its seal key could make."""
    from api.seal_config import seal_settings
    from seals.jws import sign_jws
    from seals.registry import active_signer

    header, payload, _ = credential.split(".")
    claims = {**json.loads(b64url_decode(payload)), **changes}
    with standalone_session(settings.database_url) as session:
        signer = active_signer(session, seal_settings(settings), department)
        return sign_jws(claims, signer, typ=json.loads(b64url_decode(header))["typ"])


def test_my_certificates_keep_their_issuers_name_after_a_publication_recodes_it(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """A publication gives the registry another code: the citizen's list still names the
    department that issued her certificate, not a bare code."""
    me = signed_in(live_server, resident)
    issue(live_server, me)
    bundled = json.dumps(load_catalog(bundled_catalog_path()).to_document(), ensure_ascii=False)
    with standalone_session(settings.database_url) as session:
        renamed = catalog_from_document(json.loads(bundled.replace('"BDC"', '"BDX"')))
        publish_recorded(session, renamed, "目录管理员", None, Actor())
    [listed] = httpx.get(f"{live_server}/api/v1/me/certificates", headers=me).json()
    assert (listed["issuer"], listed["issuer_name_zh"]) == ("BDC", "金华市不动产登记中心"), listed


def test_a_certificate_naming_a_status_list_the_service_does_not_have_is_not_called_valid(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """Sealed by its own issuer but naming a list the exchange never signed, a certificate could
    never be revoked: the service, which holds every list there is, says it cannot confirm it."""
    me = signed_in(live_server, resident)
    credential = httpx.get(live_server + issue(live_server, me)["links"]["jws"], headers=me).text
    assert verdict(live_server, credential=credential)["status"] == "VALID"
    for list_url in (f"{live_server}/api/v1/status-lists/77", "https://elsewhere.example/lists/1"):
        forged = _resealed(settings, credential, "BDC", status={"list_url": list_url, "index": 5})
        result = verdict(live_server, credential=forged)
        assert checks(result)["integrity"] == ("VALID", checks(result)["integrity"][1])  # a genuine seal signed it
        assert checks(result)["certificate_status"] == ("ERROR", "status_list_unknown"), checks(result)
        assert result["status"] == "ERROR"


def _registry_made_no_criminal_record(settings: Settings, live_server: str,
                                      resident: DemoResident) -> tuple[str, str, Any]:
    """A resident's genuine 无房证明 credential; the same resealed by the real-estate registry's own
    seal as a 无犯罪记录证明, the public security bureau's to issue; and the genuine identifier."""
    from exchange.certificates.identifiers import make_identifier, parse_identifier

    me = signed_in(live_server, resident)
    credential = httpx.get(live_server + issue(live_server, me)["links"]["jws"], headers=me).text
    genuine = parse_identifier(json.loads(b64url_decode(credential.split(".")[1]))["identifier"])
    identifier = str(make_identifier("NO_CRIMINAL_RECORD", genuine.issuer_uscc, genuine.serial))
    forged = _resealed(settings, credential, "BDC", identifier=identifier, jti=identifier,
                       proof={"code": "NO_CRIMINAL_RECORD", "name_zh": "无犯罪记录证明"})
    return credential, forged, genuine


def test_a_certificate_sealed_by_a_department_that_does_not_issue_that_proof_is_not_valid(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """The real-estate registry holds a genuine seal, but 无犯罪记录证明 is the public security
    bureau's to issue: one it seals in its own name is refused by the service, which knows from
    every catalog it published who issues what."""
    credential, forged, _ = _registry_made_no_criminal_record(settings, live_server, resident)
    result = verdict(live_server, credential=forged)
    assert checks(result)["integrity"][0] == "VALID", result["checks"][0]["message_en"]  # a genuine seal signed it
    assert checks(result)["issuer"] == ("INVALID", "issuer_not_competent"), checks(result)
    assert result["status"] == "INVALID"
    assert verdict(live_server, credential=credential)["status"] == "VALID"

    # a later catalog gives 无房证明 to another department: what the registry issued before stays its own
    from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog

    document = load_catalog(bundled_catalog_path()).to_document()
    for proof in document["proofs"]:  # the registry's two proofs, each naming the other as its alternative
        if proof["code"] in ("NO_HOUSING", "REAL_ESTATE_SEARCH"):
            proof["department"] = "ZJ"
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, catalog_from_document(document), "目录管理员", None, Actor())
    assert verdict(live_server, credential=credential)["status"] == "VALID"
    assert checks(verdict(live_server, credential=forged))["issuer"] == ("INVALID", "issuer_not_competent")


def test_a_certificate_issued_under_a_version_rolled_back_since_stays_its_issuers(
        settings: Settings, live_server: str, resident: DemoResident, tmp_path: Path) -> None:
    """Version 2 renames 无房证明 (无房产证明), and one is issued under it at a counter; version 3
    rolls back to version 1's content. The server, which had judged issuers under version 1 and
    served nothing while version 2 was live, still finds that certificate its issuer's to have
    made, under the name it bears: version 3 is a new live version, not version 1 again."""
    from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog

    me = signed_in(live_server, resident)
    first = httpx.get(live_server + issue(live_server, me)["links"]["jws"], headers=me).text
    assert verdict(live_server, credential=first)["status"] == "VALID"  # the server judged under version 1
    bundled = load_catalog(bundled_catalog_path())
    moved = bundled.to_document()
    for proof in moved["proofs"]:
        if proof["code"] == "NO_HOUSING":
            proof["name_zh"] = "无房产证明"
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, catalog_from_document(moved), "目录管理员", None, Actor())
    env = cli_environment(settings.database_url, settings.var_dir)
    issued = run_cli(env, "certificate", "issue", "--operator", "GK-0001", "--id-number", resident.id_number,
                     "--name", resident.name, "--proof", "NO_HOUSING", "--purpose", "申请公租房",
                     "--out", str(tmp_path))
    assert issued.returncode == 0, issued.stderr
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, bundled, "目录管理员", None, Actor())  # the rollback: version 1's content as version 3
    credential = next(tmp_path.glob("*.jws")).read_text().strip()
    result = verdict(live_server, credential=credential)
    assert checks(result)["issuer"][0] == "VALID", checks(result)
    assert result["status"] == "VALID"


def test_offline_the_signed_issuer_list_catches_a_seal_making_another_departments_proof(
        settings: Settings, live_server: str, resident: DemoResident, tmp_path: Path) -> None:
    """A bank verifying offline, with the trust material exported: the registry's genuine seal over
    a 无犯罪记录证明 is refused as the service refuses it; a list another seal signed is refused
    as trust material; a certificate issued after the list was signed, by an issuer the list does
    not name, is undecided (the list may be older than the catalog), never valid."""
    from exchange.certificates.issuer_list import read_issuer_list
    from seals.trust import TrustStore

    credential, forged, genuine = _registry_made_no_criminal_record(settings, live_server, resident)
    env, trust = cli_environment(settings.database_url, settings.var_dir), tmp_path / "trust"
    assert run_cli(env, "seal", "export-trust", str(trust)).returncode == 0
    (tmp_path / "genuine.jws").write_text(credential)
    (tmp_path / "forged.jws").write_text(forged)

    valid = run_cli(env, "verify", str(tmp_path / "genuine.jws"), "--trust", str(trust))
    assert valid.returncode == 0 and "结论：证明有效。" in valid.stdout, valid.stdout + valid.stderr
    refused = run_cli(env, "verify", str(tmp_path / "forged.jws"), "--trust", str(trust), "--json")
    assert refused.returncode == 1
    assert checks(json.loads(refused.stdout))["issuer"] == ("INVALID", "issuer_not_competent")

    served = httpx.get(f"{live_server}/api/v1/trust/issuers")  # the same list, for verifiers that fetch it
    assert served.status_code == 200
    with standalone_session(settings.database_url) as session:
        exchange_uscc = read_live_catalog(session).departments[settings.exchange_department].uscc
    listed = read_issuer_list(served.json()["issuer_list"], TrustStore.load(trust), exchange_uscc)
    proof = json.loads(b64url_decode(credential.split(".")[1]))["proof"]
    assert (proof["code"], genuine.issuer_uscc, proof["name_zh"]) in listed.kinds
    assert not any(kind.code == "NO_CRIMINAL_RECORD" and kind.issuer_uscc == genuine.issuer_uscc
                   for kind in listed.kinds)

    lists = (trust / "issuers.jws").read_text()
    (trust / "issuers.jws").write_text(_resealed(settings, lists.strip(), "BDC"))
    other_seal = run_cli(env, "verify", str(tmp_path / "forged.jws"), "--trust", str(trust))
    assert other_seal.returncode != 0 and "出具单位清单" in other_seal.stderr and "交换平台" in other_seal.stderr, \
        other_seal.stderr

    from api.seal_config import seal_settings
    from exchange.certificates.issuer_list import sign_issuer_list
    from seals.registry import active_signer

    issued_at = datetime.fromisoformat(json.loads(b64url_decode(forged.split(".")[1]))["issued_at"].replace("Z", "+00:00"))
    with standalone_session(settings.database_url) as session:  # a list signed just before it was issued
        older = sign_issuer_list(listed.documents, active_signer(session, seal_settings(settings),
                                                             settings.exchange_department), now=issued_at - timedelta(seconds=1))
    (trust / "issuers.jws").write_text(older)
    undecided = run_cli(env, "verify", str(tmp_path / "forged.jws"), "--trust", str(trust), "--json")
    assert undecided.returncode == 1, undecided.stderr
    assert checks(json.loads(undecided.stdout))["issuer"] == ("ERROR", "issuer_not_in_list"), undecided.stdout


def test_the_served_issuer_list_names_a_catalog_published_a_moment_before(
        settings: Settings, live_server: str) -> None:
    """The server keeps the catalogs it signs in `/trust/issuers` between requests; a publication
    is in the next list it serves, signed after it."""
    from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog
    from exchange.certificates.issuer_list import read_issuer_list
    from seals.registry import trust_store

    def served() -> Any:
        response = httpx.get(f"{live_server}/api/v1/trust/issuers")
        assert response.status_code == 200, response.text
        with standalone_session(settings.database_url) as session:
            exchange_uscc = read_live_catalog(session).departments[settings.exchange_department].uscc
            return read_issuer_list(response.json()["issuer_list"], trust_store(session), exchange_uscc)

    before = served()
    assert served().documents == before.documents  # nothing published: the same catalogs, signed again
    document = load_catalog(bundled_catalog_path()).to_document()
    for proof in document["proofs"]:
        if proof["code"] in ("NO_HOUSING", "REAL_ESTATE_SEARCH"):
            proof["department"] = "ZJ"
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, catalog_from_document(document), "目录管理员", None, Actor())
        moved_to = read_live_catalog(session).departments["ZJ"].uscc
    after = served()
    assert len(after.documents) == len(before.documents) + 1
    assert after.signed_at >= before.signed_at
    assert any(kind.code == "NO_HOUSING" and kind.issuer_uscc == moved_to for kind in after.kinds)
    assert not any(kind.code == "NO_HOUSING" and kind.issuer_uscc == moved_to for kind in before.kinds)


@pytest.mark.parametrize("forgery", ["title", "statement", "label", "text", "added field"])
def test_a_seal_cannot_make_its_own_proof_state_another_departments_fact(
        settings: Settings, live_server: str, resident: DemoResident, tmp_path: Path, forgery: str) -> None:
    """The registry's genuine seal over its own 无房证明, made to state a criminal record: retitled
    无犯罪记录证明, or keeping its title with the statement, an item's label or its text changed,
    or an item added. A certificate reads as its proof's definition in a catalog writes it, so
    online, offline and on /verify it is refused; the genuine one stays valid."""
    me = signed_in(live_server, resident)
    credential = httpx.get(live_server + issue(live_server, me)["links"]["jws"], headers=me).text
    claims = json.loads(b64url_decode(credential.split(".")[1]))
    fields = claims["fields"]
    changed = {
        "title": {"proof": {**claims["proof"], "name_zh": "无犯罪记录证明"},
                  "statement_zh": f"经查询，{claims['holder']['name']}在本市无犯罪记录。"},
        "statement": {"statement_zh": f"经查询，{claims['holder']['name']}在本市无犯罪记录。"},
        "label": {"fields": [{**f, "label_zh": "是否有犯罪记录"} if f["name"] == "has_registered_property" else f
                             for f in fields]},
        "text": {"fields": [{**f, "text_zh": "无犯罪记录"} if f["name"] == "has_registered_property" else f
                            for f in fields]},
        "added field": {"fields": [*fields, {"name": "criminal_record", "label_zh": "犯罪记录", "value": False,
                                             "text_zh": "无"}]},
    }[forgery]
    forged = _resealed(settings, credential, "BDC", **changed)
    expected = "issuer_not_competent" if forgery == "title" else "content_not_catalogued"
    result = verdict(live_server, credential=forged)
    assert checks(result)["integrity"][0] == "VALID", result["checks"][0]["message_en"]
    assert checks(result)["issuer"] == ("INVALID", expected), checks(result)
    assert result["status"] == "INVALID" and verdict(live_server, credential=credential)["status"] == "VALID"
    page = httpx.post(f"{live_server}/verify", data={"credential": forged}, timeout=30)
    assert page.status_code == 200 and "无效" in page.text
    assert ("不负责出具“无犯罪记录证明”" if forgery == "title" else "不是按目录出具的") in page.text, page.text

    env, trust = cli_environment(settings.database_url, settings.var_dir), tmp_path / "trust"
    assert run_cli(env, "seal", "export-trust", str(trust)).returncode == 0
    (tmp_path / "genuine.jws").write_text(credential)
    (tmp_path / "forged.jws").write_text(forged)
    assert run_cli(env, "verify", str(tmp_path / "genuine.jws"), "--trust", str(trust)).returncode == 0
    refused = run_cli(env, "verify", str(tmp_path / "forged.jws"), "--trust", str(trust), "--json")
    assert refused.returncode == 1
    assert checks(json.loads(refused.stdout))["issuer"] == ("INVALID", expected), refused.stdout


def test_only_the_holder_downloads(live_server: str, settings: Settings) -> None:
    holder, other = sample_residents(settings.sources_dir, 2)
    certificate = issue(live_server, signed_in(live_server, holder))
    stranger = httpx.get(live_server + certificate["links"]["pdf"], headers=signed_in(live_server, other))
    assert stranger.status_code == 404
    anonymous = httpx.get(live_server + certificate["links"]["pdf"])
    assert anonymous.status_code == 401


def test_a_tampered_credential_is_invalid(live_server: str, resident: DemoResident) -> None:
    me = signed_in(live_server, resident)
    credential = httpx.get(live_server + issue(live_server, me)["links"]["jws"], headers=me).text
    header, payload, signature = credential.split(".")
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace("否".encode(), "是".encode())
    forged = ".".join([header, base64.urlsafe_b64encode(claims).decode().rstrip("="), signature])
    result = verdict(live_server, credential=forged)
    assert result["status"] == "INVALID"
    assert checks(result)["integrity"][0] == "INVALID"


@pytest.mark.parametrize(("body", "pointer"), [
    ({"credential": "a.b.c", "qr": "MZ1:X"}, "#"),
    ({"pdf_base64": "%%%"}, "#/pdf_base64"),
    ({}, "#"),
])
def test_bad_verification_requests(live_server: str, body: dict, pointer: str) -> None:
    response = httpx.post(f"{live_server}/api/v1/verify", json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["pointer"] == pointer


def test_garbage_is_an_invalid_verdict_not_an_error(live_server: str) -> None:
    result = verdict(live_server, credential="this is not a certificate")
    assert result["status"] == "INVALID" and result["form"] == "unknown"


def test_verification_is_rate_limited(app: Flask, live_server: str) -> None:
    clock = ManualClock()
    app.extensions["mianzheng"].verify_bucket.clock = clock  # time passes only when the test says so

    def verify() -> httpx.Response:
        return httpx.post(f"{live_server}/api/v1/verify", json={"credential": "x"})

    assert [verify().status_code for _ in range(VERIFY_BURST)] == [200] * VERIFY_BURST
    limited = verify()
    assert limited.status_code == 429 and limited.headers["content-type"] == "application/problem+json"
    wait = 1 / VERIFY_RATE_PER_SECOND
    assert limited.headers["retry-after"] == str(int(wait) + 1)
    clock.advance(wait * 0.9)
    assert verify().status_code == 429
    clock.advance(wait * 0.1)
    assert verify().status_code == 200  # one token refilled
    assert verify().status_code == 429


def test_a_proof_that_cannot_be_issued(live_server: str, resident: DemoResident) -> None:
    response = httpx.post(f"{live_server}/api/v1/me/certificates", headers=signed_in(live_server, resident),
                          json={"proof": "SINGLE_DECLARATION", "purpose": "x"})
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-request"


def test_an_idempotency_key_issues_once(settings: Settings, live_server: str, resident: DemoResident) -> None:
    me = {**signed_in(live_server, resident), "Idempotency-Key": "portal-form-7f3a"}
    url = f"{live_server}/api/v1/me/certificates"
    body = {"proof": "NO_HOUSING", "purpose": "申请公租房"}
    with ThreadPoolExecutor(6) as pool:  # a double click, and the network retrying
        answers = list(pool.map(lambda _: httpx.post(url, headers=me, json=body, timeout=60), range(6)))
    assert {a.status_code for a in answers} <= {200, 201, 409}, [a.text for a in answers]
    assert [a.status_code for a in answers].count(201) == 1  # issued once; a repeat after it is a replay (200)
    assert all("retry-after" in a.headers for a in answers if a.status_code == 409)
    again = httpx.post(url, headers=me, json=body, timeout=60)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true", again.text
    assert again.headers["Location"] == again.json()["links"]["pdf"]
    assert all(("idempotent-replayed" in a.headers) == (a.status_code == 200) for a in answers)
    assert {a.json()["identifier"] for a in answers if a.status_code in (200, 201)} == {again.json()["identifier"]}
    assert len(httpx.get(url, headers=me).json()) == 1  # one certificate, however often it was asked for
    other = httpx.post(url, headers=me, json={**body, "purpose": "别的用途"}, timeout=60)
    assert other.status_code == 409 and other.json()["errors"] == [  # a header: named as a parameter, not a pointer
        {"parameter": "Idempotency-Key", "detail": other.json()["detail"]}]
    assert "retry-after" not in other.headers  # the key holds another request: repeating cannot succeed
    bad = httpx.post(url, headers={**me, "Idempotency-Key": "has spaces in it"}, json=body, timeout=60)
    assert bad.status_code == 400 and bad.json()["errors"][0]["parameter"] == "Idempotency-Key"
    number = resident.id_number
    for personal in (f"k{number}", f"k{number[:6]}-{number[6:14]}-{number[14:]}"):
        # the key is kept in clear with the request it answered: never an ID number, as a request_id
        bad = httpx.post(url, headers={**me, "Idempotency-Key": personal}, json=body, timeout=60)
        assert bad.status_code == 400 and bad.json()["errors"][0]["parameter"] == "Idempotency-Key", bad.text
    assert len(httpx.get(url, headers=me).json()) == 1


def test_a_certificate_signed_while_its_seal_is_revoked_is_not_issued(
        settings: Settings, live_server: str, resident: DemoResident, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seal officer revokes 不动产登记中心's seal while a 无房证明 is being signed with it. The
    certificate must not be stored and handed out as valid: it was signed after the revocation."""
    from sqlalchemy import select

    from api.seal_config import seal_settings
    from exchange import issuance
    from exchange.certificate_records import IssuedCertificate
    from seals.ca import RevocationReason
    from seals.registry import revoke_seal

    signing = issuance.sign_credential
    revoked: list[str] = []

    def revoked_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not revoked:
            with standalone_session(settings.database_url) as session:
                revoked.append(revoke_seal(session, seal_settings(settings), "BDC",
                                           RevocationReason.CESSATION_OF_OPERATION).serial_hex)
        return signing(*args, **kwargs)

    monkeypatch.setattr(issuance, "sign_credential", revoked_meanwhile)
    response = httpx.post(f"{live_server}/api/v1/me/certificates", headers=signed_in(live_server, resident),
                          json={"proof": "NO_HOUSING", "purpose": "申请公租房"}, timeout=30)
    assert revoked and response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    with standalone_session(settings.database_url) as session:
        assert session.scalars(select(IssuedCertificate)).all() == []


def test_no_status_list_is_signed_after_the_exchange_seals_revocation_time(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """The registry revokes a certificate while the seal officer's revocation of the exchange's
    seal, which signs the status lists, has taken its time and not yet committed. A list signed
    then would carry a time at or after that revocation: every verifier would reject it, and every
    certificate it holds would verify 无法确认 until a new seal signed it again. The registry's
    revocation waits for the seal's: it is signed before it, or refused (503) for want of a seal."""
    from tests.support.seal_revocation import while_revoking

    certificate = issue(live_server, signed_in(live_server, resident))
    registry = client_token(settings, "BDC", [ClientScope.CERTIFICATES_REVOKE])
    response, revoked_kid, revoked_at = while_revoking(settings, settings.exchange_department, lambda: httpx.post(
        f"{live_server}/api/v1/certificates/{certificate['identifier']}/revocation",
        headers={"Authorization": f"Bearer {registry}"}, json={"reason": "data_changed"}, timeout=60))
    token = httpx.get(f"{live_server}/api/v1/status-lists/1").text
    header, payload = (json.loads(b64url_decode(part)) for part in token.split(".")[:2])
    assert header["kid"] != revoked_kid or payload["iat"] < revoked_at.timestamp(), (header, payload, revoked_at)
    assert response.status_code in (200, 503), response.text


def test_a_revocation_erased_from_the_records_is_not_withdrawn_by_a_rebuild(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """Someone with write access to the database marks a revoked certificate valid again. The
    check says the records lost a revocation the signed list published, and a rebuild keeps it:
    a published revocation is final, so the certificate stays 无效 for every verifier."""
    from tests.support.cli import cli_environment, run_cli
    from tests.support.sql import sql_rows

    me = signed_in(live_server, resident)
    certificate = issue(live_server, me)
    credential = httpx.get(live_server + certificate["links"]["jws"], headers=me).text
    registry = client_token(settings, "BDC", [ClientScope.CERTIFICATES_REVOKE])
    assert httpx.post(f"{live_server}/api/v1/certificates/{certificate['identifier']}/revocation", timeout=30,
                      headers={"Authorization": f"Bearer {registry}"}, json={"reason": "issued_in_error"}).status_code == 200
    sql_rows(settings.database_url, "UPDATE certificates SET status = 'valid', revoked_at = NULL, "
                                    f"revocation_reason = NULL WHERE identifier = '{certificate['identifier']}'")
    env = cli_environment(settings.database_url, settings.var_dir)
    checked = run_cli(env, "certificate", "status-list", "check")
    assert checked.returncode == 1 and "撤销记录少了 1 张" in checked.stdout + checked.stderr, checked.stdout + checked.stderr
    assert "rebuild" not in checked.stderr  # a rebuild cannot (and must not) undo a published revocation
    assert run_cli(env, "certificate", "status-list", "rebuild").returncode == 0
    after = verdict(live_server, credential=credential)
    assert after["status"] == "INVALID" and after["revocation_reason"] == "issued_in_error", after["status"]


def test_a_seal_key_that_cannot_be_opened_is_told_in_chinese_and_logged(
        settings: Settings, live_server: str, resident: DemoResident, caplog: pytest.LogCaptureFixture) -> None:
    """The citizen is told in Chinese that the seal cannot sign now, without the installation's
    key file names; the operator finds which key in the server's log."""
    from sqlalchemy import select

    from seals.registry import Seal

    with standalone_session(settings.database_url) as session:
        key_ref = session.scalars(select(Seal.key_ref).where(Seal.department_code == "BDC",
                                                             Seal.status == "active")).one()
    (settings.var_dir / "keys" / key_ref).write_bytes(b"garbled")
    with caplog.at_level("WARNING"):
        response = httpx.post(f"{live_server}/api/v1/me/certificates", headers=signed_in(live_server, resident),
                              json={"proof": "NO_HOUSING", "purpose": "申请公租房"}, timeout=30)
    assert response.status_code == 503 and response.headers.get("Retry-After"), response.status_code
    body = response.json()
    assert key_ref not in response.text and ".key" not in response.text
    assert "印章" in body["detail_zh"]
    assert any(key_ref in record.getMessage() for record in caplog.records)


def test_the_status_lists_are_signed_again_when_the_exchanges_seal_is_replaced(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """The exchange's seal, which signs the certificate status lists, is revoked for key
    compromise and a new one issued. The next pass of the jobs signs every list again with the
    new seal: certificates keep verifying, rather than failing on a list signed by a revoked key
    until the list comes near its expiry."""
    from api.jobs import sweep
    from api.runtime import Runtime
    from exchange.applications.leases import new_holder
    from tests.support.cli import cli_environment, run_cli

    me = signed_in(live_server, resident)
    credential = httpx.get(live_server + issue(live_server, me)["links"]["jws"], headers=me).text
    assert verdict(live_server, credential=credential)["status"] == "VALID"
    env = cli_environment(settings.database_url, settings.var_dir)
    exchange = settings.exchange_department
    for command in (("revoke", exchange, "--reason", "key_compromise"), ("issue", exchange)):
        done = run_cli(env, "seal", *command)
        assert done.returncode == 0, done.stderr
        assert ("无法确认" in done.stderr) is (command[0] == "revoke")  # the seal officer is told what follows
        if command[0] == "revoke":  # no seal to sign with yet: said in one line, nothing rebuilt
            refused = run_cli(env, "certificate", "status-list", "rebuild")
            assert refused.returncode == 4 and "Traceback" not in refused.stderr, refused.stderr[-400:]
            assert refused.stderr.strip().splitlines()[-1].startswith("错误：交换平台的电子印章不可用")
    current = Runtime.start(settings)
    try:
        assert sweep(current, new_holder(), 30.0).status_list_signed
        assert not sweep(current, new_holder(), 30.0).status_list_signed  # once, not on every pass
    finally:
        current.engine.dispose()
    after = verdict(live_server, credential=credential)
    assert after["status"] == "VALID", checks(after)
    assert checks(after)["certificate_status"] == ("VALID", "certificate_not_revoked")


def test_the_holders_list_says_what_a_compromised_seal_signed_is_no_longer_valid(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """The issuing department's seal key is stolen and its seal revoked for key compromise: from
    then on every verifier calls what that key signed 无效 (a thief can back-date a signature).
    The holder's list says so too, rather than 有效, and offers no download of a document every
    verifier turns away; a certificate issued again, under the department's new seal, is valid."""
    from tests.api.test_exchange_requests import assertion

    me = signed_in(live_server, resident)
    before = issue(live_server, me)
    credential = httpx.get(live_server + before["links"]["jws"], headers=me).text
    env = cli_environment(settings.database_url, settings.var_dir)
    for command in (("revoke", "BDC", "--reason", "key_compromise"), ("issue", "BDC")):
        assert run_cli(env, "seal", *command).returncode == 0
    assert verdict(live_server, credential=credential)["status"] == "INVALID"
    again = issue(live_server, me)
    listed = {c["identifier"]: c["status"] for c in httpx.get(f"{live_server}/api/v1/me/certificates", headers=me).json()}
    assert listed == {before["identifier"]: "seal_revoked", again["identifier"]: "valid"}
    page = httpx.get(f"{live_server}/portal/certificates", cookies={"mz_identity": assertion(live_server, resident)})
    rows = {}
    for identifier in (before["identifier"], again["identifier"]):
        row = page.text[page.text.index(f'data-identifier="{identifier}"'):]
        rows[identifier] = row[:row.index("</tr>")]
    old, new = rows[before["identifier"]], rows[again["identifier"]]
    assert "已失效" in old and "重新开具" in old and "有效</span>" not in old, old
    assert "下载 PDF" not in old and "机读凭证" not in old and "不能下载" in old, old
    assert "下载 PDF" in new and "机读凭证" in new and "有效</span>" in new, new


def test_trust_exported_right_after_the_exchanges_seal_is_replaced_confirms_certificates(
        settings: Settings, live_server: str, resident: DemoResident, tmp_path: Path) -> None:
    """The seal officer revokes the compromised exchange seal, issues a new one and exports the
    trust material at once, before the jobs' next pass: the status lists in it are signed by the
    new seal, so a bank verifying offline with it gets 有效, not 无法确定 for every certificate."""
    me = signed_in(live_server, resident)
    credential = httpx.get(live_server + issue(live_server, me)["links"]["jws"], headers=me).text
    env, trust = cli_environment(settings.database_url, settings.var_dir), tmp_path / "trust"
    for command in (("revoke", settings.exchange_department, "--reason", "key_compromise"),
                    ("issue", settings.exchange_department), ("export-trust", str(trust))):
        done = run_cli(env, "seal", *command)
        assert done.returncode == 0, done.stderr
    (tmp_path / "certificate.jws").write_text(credential)
    offline = run_cli(env, "verify", str(tmp_path / "certificate.jws"), "--trust", str(trust))
    assert offline.returncode == 0 and "结论：证明有效。" in offline.stdout, offline.stdout + offline.stderr


def test_an_id_number_written_into_the_purpose_is_printed_and_signed_masked(
        settings: Settings, live_server: str, resident: DemoResident, tmp_path) -> None:
    """A citizen writes the spouse's number into the purpose, in groups, and a mistyped one: the
    sealed certificate (its credential, its page and its record) states them masked, as the access
    log does, never in full."""
    import subprocess

    me = signed_in(live_server, resident)
    purpose = "配偶 110105 19491231 002X 申请公租房，另 330703199105160242"
    response = httpx.post(f"{live_server}/api/v1/me/certificates", headers=me, timeout=30,
                          json={"proof": "NO_HOUSING", "purpose": purpose})
    assert response.status_code == 201, response.text
    certificate = response.json()
    credential = httpx.get(live_server + certificate["links"]["jws"], headers=me).text
    payload = base64.urlsafe_b64decode(credential.split(".")[1] + "==").decode("utf-8")
    pdf = httpx.get(live_server + certificate["links"]["pdf"], headers=me).content
    (tmp_path / "c.pdf").write_bytes(pdf)
    page = subprocess.run([require_tool("pdftotext", "poppler-utils"), str(tmp_path / "c.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    with standalone_session(settings.database_url) as session:
        stored = session.scalar(text("SELECT purpose FROM certificates"))
    for form in (payload, page, stored):
        assert "19491231" not in form and "199105160242" not in form
    assert "110105 ******** 002X" in payload and "110105 ******** 002X" in stored
    assert "330703********0242" in stored
    assert "002X" in page and "申请公租房" in page


@pytest.mark.parametrize("purpose", ["申请😀", "𠀀申请"])
def test_a_purpose_the_certificate_cannot_print_is_refused_before_anything_is_pulled(
        live_server: str, resident: DemoResident, purpose: str) -> None:
    me = signed_in(live_server, resident)
    response = httpx.post(f"{live_server}/api/v1/me/certificates", headers=me, timeout=30,
                          json={"proof": "NO_HOUSING", "purpose": purpose})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["pointer"] == "#/purpose"
    assert httpx.get(f"{live_server}/api/v1/me/access-log", headers=me).json()["entries"] == []
    assert httpx.get(f"{live_server}/api/v1/me/certificates", headers=me).json() == []


def test_a_name_the_certificate_cannot_print_is_refused_before_anything_is_pulled(
        live_server: str, resident: DemoResident) -> None:
    """A citizen whose name has a character the certificate's face lacks is told so, and to ask
    at a counter: a certificate with a blank for it would misstate who it is about."""
    response = httpx.post(f"{live_server}/dev-idp/token", json={"name": "刘𠮷", "id_number": resident.id_number})
    me = {"Authorization": f"Bearer {response.json()['assertion']}"}
    refused = httpx.post(f"{live_server}/api/v1/me/certificates", headers=me, timeout=30,
                         json={"proof": "NO_HOUSING", "purpose": "申请公租房"})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/not-printable") and "𠮷" in problem["detail_zh"], problem
    assert httpx.get(f"{live_server}/api/v1/me/access-log", headers=me).json()["entries"] == []


def _certificate_rows(settings: Settings) -> bytes:
    """Every value of every row of `certificates`, as a copy of the database holds it."""
    from sqlalchemy import text

    with standalone_session(settings.database_url) as session:
        rows = session.execute(text("SELECT * FROM certificates")).all()
    return b"\n".join(v if isinstance(v, bytes) else str(v).encode() for row in rows for v in row)


def test_a_copy_of_the_database_holds_no_certificate_form_in_the_clear(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """The forms carry the holder's name, masked ID number and ID binding: they are stored sealed,
    as license credentials are, and downloaded as issued."""
    me = signed_in(live_server, resident)
    issued = issue(live_server, me)
    forms = {kind: httpx.get(live_server + issued["links"][kind], headers=me, timeout=30) for kind in ("pdf", "jws", "qr")}
    assert all(response.status_code == 200 for response in forms.values())
    assert forms["pdf"].content.startswith(b"%PDF") and verdict(live_server, credential=forms["jws"].text)["status"] == "VALID"
    stored = _certificate_rows(settings)
    assert issued["identifier"].encode() in stored
    for clear in (resident.name.encode(), b"%PDF", forms["jws"].text.split(".")[1].encode(), forms["qr"].text[:40].encode()):
        assert clear not in stored


def test_a_certificate_stored_in_the_clear_before_is_served_and_sealed_by_keys_reencrypt(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """A certificate issued before the forms were sealed has them in the clear columns: it is
    downloaded as before, and `mianzheng keys reencrypt` seals it and clears those columns."""
    from sqlalchemy import update

    from exchange.certificate_records import IssuedCertificate
    from tests.support.cli import cli_environment, run_cli

    me = signed_in(live_server, resident)
    issued = issue(live_server, me)
    forms = {kind: httpx.get(live_server + issued["links"][kind], headers=me, timeout=30).content
             for kind in ("pdf", "jws", "qr")}
    with standalone_session(settings.database_url) as session:  # as the row was before the forms were sealed
        session.execute(update(IssuedCertificate).where(IssuedCertificate.identifier == issued["identifier"]).values(
            credential=forms["jws"].decode(), qr_payload=forms["qr"].decode(), pdf=forms["pdf"],
            forms_key_id=None, forms_blob=None))
        session.commit()
    assert {kind: httpx.get(live_server + issued["links"][kind], headers=me, timeout=30).content
            for kind in forms} == forms
    sealed = run_cli(cli_environment(settings.database_url, settings.var_dir), "keys", "reencrypt")
    assert sealed.returncode == 0, sealed.stderr
    assert b"%PDF" not in _certificate_rows(settings)
    assert {kind: httpx.get(live_server + issued["links"][kind], headers=me, timeout=30).content
            for kind in forms} == forms


def test_the_jobs_go_on_when_the_exchange_has_no_seal_to_sign_a_list_with(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """The exchange's seal is revoked and no new one issued yet, while a status list comes near its
    expiry: the pass cannot sign the list, and says so, but purges, resumes, checks and writes the
    heartbeat as ever (a missing heartbeat takes every node out of service)."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from api.jobs import sweep
    from api.runtime import Runtime
    from exchange.applications.leases import new_holder
    from exchange.job_heartbeats import JOBS_NAME, jobs_state
    from exchange.status_lists import StatusListRecord
    from tests.support.cli import cli_environment, run_cli

    issue(live_server, signed_in(live_server, resident))
    revoked = run_cli(cli_environment(settings.database_url, settings.var_dir), "seal", "revoke",
                      settings.exchange_department, "--reason", "key_compromise")
    assert revoked.returncode == 0, revoked.stderr
    soon = datetime.now(timezone.utc) + timedelta(minutes=5)
    with standalone_session(settings.database_url) as session:
        session.execute(update(StatusListRecord).where(StatusListRecord.token.is_not(None))
                        .values(token_expires_at=soon))
        session.commit()
    current = Runtime.start(settings)
    try:
        report = sweep(current, new_holder(), 30.0)
        assert not report.status_list_signed
        with current.sessions() as session:
            assert jobs_state(session, JOBS_NAME, datetime.now(timezone.utc)).status == "ok"
    finally:
        current.engine.dispose()
