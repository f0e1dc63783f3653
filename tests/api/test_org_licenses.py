"""An organisation holds its licenses through a legal-person sign-in on the development identity
provider, over real HTTP: the market regulator issues a 营业执照 to a company's USCC, the company
signs in (legal person), sees it among its licenses, downloads it and shows it (亮证) with chosen
items once; a citizen's assertion is no legal-person sign-in, nor the other way round."""

from __future__ import annotations

import httpx

from api.settings import Settings
from catalog.credit_code import complete_uscc
from exchange.clients import ClientScope
from demo.data import sample_residents
from tests.api.test_licenses_api import client, pdf_verdict, signed_in, verdict

USCC = complete_uscc("913307020000K9X4")
NAME = "金华市婺城区某某科技有限公司"


def business_license() -> dict:
    return {"license_type": "BUSINESS_LICENSE_COPY", "reference": "SCJG-2026-000042",
            "holder": {"name": NAME, "uscc": USCC},
            "items": {"uscc": USCC, "entity_name": NAME, "entity_type": "limited_company", "legal_representative": "张三",
                      "registered_capital": "100万元人民币", "established_date": "2020-03-18",
                      "domicile": "浙江省金华市婺城区某某路1号", "business_scope": "软件开发；信息技术咨询服务",
                      "registration_status": "active"}}


def legal_person(base: str, uscc: str = USCC, name: str = NAME) -> dict[str, str]:
    response = httpx.post(f"{base}/dev-idp/legal-person/token", json={"uscc": uscc, "name": name, "agent_name": "张三"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['assertion']}"}


def test_an_organisation_signs_in_as_legal_person_and_shows_its_license(settings: Settings, live_server: str) -> None:
    scjg = client(settings, "SCJG", [ClientScope.LICENSES_WRITE])
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=scjg, json=business_license(), timeout=30)
    assert issued.status_code == 201, issued.text
    identifier = issued.json()["identifier"]

    org = legal_person(live_server)
    wallet = httpx.get(f"{live_server}/api/v1/org/licenses", headers=org)
    assert wallet.status_code == 200, wallet.text
    held = next(w for w in wallet.json() if w["identifier"] == identifier)
    assert held["license_name_zh"] == "营业执照" and held["holder_id_masked"] == USCC
    assert held["links"]["presentations"] == f"/api/v1/org/licenses/{identifier}/presentations"

    credential = httpx.get(live_server + held["links"]["credential"], headers=org).text
    assert verdict(live_server, credential)["status"] == "VALID"
    pdf = httpx.get(live_server + held["links"]["pdf"], headers=org, timeout=60)
    assert pdf.status_code == 200 and pdf_verdict(live_server, pdf.content)["status"] == "VALID"

    shown = httpx.post(live_server + held["links"]["presentations"], headers=org, timeout=30,
                       json={"items": ["entity_name", "registration_status"], "minutes": 3})
    assert shown.status_code == 201, shown.text
    first = verdict(live_server, shown.json()["presentation"])
    assert first["status"] == "VALID" and first["form"] == "presentation"
    assert {i["name"]: i["text_zh"] for i in first["items"]} == {"entity_name": NAME, "registration_status": "存续"}
    assert verdict(live_server, shown.json()["presentation"])["status"] == "INVALID"  # once

    other = legal_person(live_server, complete_uscc("913307020000K9Y5"), "另一家公司")
    assert httpx.get(f"{live_server}/api/v1/org/licenses", headers=other).json() == []
    assert httpx.get(live_server + held["links"]["pdf"], headers=other).status_code == 404


def test_citizen_and_legal_person_sign_ins_are_not_interchangeable(settings: Settings, live_server: str) -> None:
    person = sample_residents(settings.sources_dir, 1)[0]
    citizen = signed_in(live_server, person)
    refused = httpx.get(f"{live_server}/api/v1/org/licenses", headers=citizen)
    assert refused.status_code == 401 and "wrong-audience" in refused.json()["detail"]
    assert httpx.get(f"{live_server}/api/v1/me/licenses", headers=legal_person(live_server)).status_code == 401
    assert httpx.get(f"{live_server}/api/v1/org/licenses").status_code == 401
    bad = httpx.post(f"{live_server}/dev-idp/legal-person/token", json={"uscc": "91330702MA2D0K9X4L", "name": NAME,
                                                                     "agent_name": "张三"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["pointer"] == "#/uscc"


def test_an_organisation_reads_who_used_its_data(settings: Settings, live_server: str) -> None:
    """The human-resources bureau uses the company's 营业执照 (用证) for an employment registration:
    the company, signed in as itself, reads that access in its own log — department, matter,
    license — as a citizen reads theirs; another company reads none of it. No consent is asked:
    an organisation's registration is public record (the matter's legal basis is logged)."""
    scjg = client(settings, "SCJG", [ClientScope.LICENSES_WRITE])
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=scjg, json=business_license(), timeout=30).status_code == 201
    rs = client(settings, "RS", [ClientScope.EXCHANGE_REQUEST])
    used = httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=rs, timeout=30, json={
        "request_id": "jy-org-1", "caseworker_id": "rs-0001", "case_number": "JY-2026-0001",
        "matter": "EMPLOYMENT_REGISTRATION", "license_type": "BUSINESS_LICENSE_COPY", "purpose": "就业登记核实用人单位",
        "subject": {"uscc": USCC, "name": NAME}})
    assert used.status_code == 200, used.text

    logged = httpx.get(f"{live_server}/api/v1/org/access-log", headers=legal_person(live_server))
    assert logged.status_code == 200, logged.text
    [entry] = logged.json()["entries"]
    assert (entry["consumer_department"], entry["matter"], entry["proof"], entry["outcome"]) == \
        ("RS", "EMPLOYMENT_REGISTRATION", "BUSINESS_LICENSE_COPY", "allowed")
    assert entry["legal_basis"] and entry["consent_id"] is None
    other = legal_person(live_server, complete_uscc("913307020000K9Y5"), "另一家公司")
    assert httpx.get(f"{live_server}/api/v1/org/access-log", headers=other).json()["entries"] == []


def test_a_company_holds_one_business_license_at_a_time(settings: Settings, live_server: str) -> None:
    """A 营业执照 is one per credit code: a second one under another reference (an export naming the
    record otherwise) is refused, naming the one held, so that revoking it for fraud leaves no other
    for 用证 to seal. Once it is revoked, the regulator may issue the company a new one."""
    scjg = client(settings, "SCJG", [ClientScope.LICENSES_WRITE])
    first = httpx.post(f"{live_server}/api/v1/licenses", headers=scjg, json=business_license(), timeout=30)
    assert first.status_code == 201, first.text
    again = {**business_license(), "reference": "SCJG-LIVE-2026-0042"}
    second = httpx.post(f"{live_server}/api/v1/licenses", headers=scjg, json=again, timeout=30)
    assert second.status_code == 409 and first.json()["identifier"] in second.json()["detail"], second.text
    assert [w["identifier"] for w in httpx.get(f"{live_server}/api/v1/org/licenses",
                                               headers=legal_person(live_server)).json()] == [first.json()["identifier"]]
    revoked = httpx.post(f"{live_server}/api/v1/licenses/{first.json()['identifier']}/revocation", headers=scjg,
                         json={"reason": "obtained_by_fraud"}, timeout=30)
    assert revoked.status_code == 200, revoked.text
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=scjg, json=again, timeout=30).status_code == 201


def test_two_business_licenses_for_one_company_at_once_give_one(settings: Settings, live_server: str) -> None:
    """Two systems of the regulator issue the company a 营业执照 at the same moment, each under its
    own reference: one is issued, the other refused (409), never two."""
    from concurrent.futures import ThreadPoolExecutor

    scjg = client(settings, "SCJG", [ClientScope.LICENSES_WRITE])
    bodies = [{**business_license(), "reference": f"SCJG-RACE-{n}"} for n in range(4)]
    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(lambda body: httpx.post(f"{live_server}/api/v1/licenses", headers=scjg, json=body,
                                                           timeout=60).status_code, bodies))
    assert statuses == [201, 409, 409, 409]
    assert len(httpx.get(f"{live_server}/api/v1/org/licenses", headers=legal_person(live_server)).json()) == 1


def test_a_business_license_of_a_company_struck_off_is_not_in_force(settings: Settings, live_server: str) -> None:
    """A 营业执照 whose 登记状态 is 注销 or 吊销 was issued as a valid license, its 亮证 saying
    这是一份真实、有效的电子证照: the market regulator revokes the license instead, and says so."""
    scjg = client(settings, "SCJG", [ClientScope.LICENSES_WRITE])
    struck_off = business_license()
    struck_off["items"] = {**struck_off["items"], "registration_status": "cancelled"}
    refused = httpx.post(f"{live_server}/api/v1/licenses", headers=scjg, json=struck_off, timeout=30)
    assert refused.status_code == 400, refused.text
    assert [e["pointer"] for e in refused.json()["errors"]] == ["#/items/registration_status"], refused.text
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=scjg, json=business_license(), timeout=30)
    assert issued.status_code == 201, issued.text
    amended = httpx.post(f"{live_server}/api/v1/licenses/{issued.json()['identifier']}/amendments", headers=scjg,
                         json={"changes": {"registration_status": "revoked"}}, timeout=30)
    assert amended.status_code == 400 and "revocation" in amended.json()["errors"][0]["detail"], amended.text
    assert [e["pointer"] for e in amended.json()["errors"]] == ["#/changes/registration_status"], amended.text
