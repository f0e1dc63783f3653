"""授权前预览 (the Once-Only preview space) in headless Chromium and over HTTP: a citizen asked
to consent to a department's pulls sees exactly which data items of which proofs go to which
department, for which matter and how long, and releases or cancels; nothing reaches the
department before the release, a cancel records nothing, and bad input is a problem naming
the parameter that changes nothing."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, expect

from api.database import standalone_session
from api.settings import Settings
from catalog.versions import read_live_catalog
from api.secrets import SUBJECT_HASH_KEY, read_secret
from exchange.consent import list_consents
from exchange.subjects import subject_key
from demo.data import DemoResident
from tests.api.test_exchange_requests import MATTER, PROOF, _bearer, assertion, client_token, envelope, residents

__all__ = ["residents"]

PREVIEW = f"/portal/consents/new?matter={MATTER}&department=ZJ&proof={PROOF}&proof=HOUSEHOLD_REGISTRATION&days=60"


def consents_recorded(settings: Settings, person: DemoResident) -> int:
    """How many consents the person has given."""
    key = subject_key(read_secret(settings, SUBJECT_HASH_KEY), person.id_number)
    with standalone_session(settings.database_url) as session:
        return len(list_consents(session, key))


def pull(base: str, token: str, person: DemoResident, request_id: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/exchange/requests", json=envelope(person, request_id),
                      headers=_bearer(token), timeout=30)


def test_the_citizen_sees_what_is_released_and_nothing_is_before_the_release(
        browser: Browser, live_server: str, settings: Settings, residents: list[DemoResident]) -> None:
    person = residents[0]
    token = client_token(settings)
    assert pull(live_server, token, person, "before-preview").json()["type"].endswith("/consent-required")
    with standalone_session(settings.database_url) as session:
        catalog = read_live_catalog(session)
    matter = catalog.matters[MATTER]
    expected_items = [catalog.proofs[PROOF].item(name).name_zh for name in matter.fields_for(PROOF)]

    page = browser.new_page()
    page.goto(f"{live_server}/dev-idp/login?next=" + httpx.URL(PREVIEW).raw_path.decode().replace("&", "%26"))
    page.fill("input[name=name]", person.name)
    page.fill("input[name=id_number]", person.id_number)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("授权前确认：申请公租房一件事")
    terms = page.locator("#consent-terms").inner_text()
    assert "金华市住房和城乡建设局" in terms and "办理“申请公租房一件事”" in terms
    assert matter.legal_basis_zh in terms and "自同意时起 60 天" in terms
    rows = page.locator("#released-data tbody tr")
    assert rows.count() == 2
    no_housing = page.locator(f'#released-data tr[data-proof="{PROOF}"]').inner_text()
    assert "无房证明" in no_housing and "金华市不动产登记中心" in no_housing and "、".join(expected_items) in no_housing
    page.screenshot(path="/tmp/see-shots/consent-preview.png", full_page=True)

    page.click("#cancel")
    expect(page.locator("#cancelled-message")).to_contain_text("未授权任何部门")
    assert consents_recorded(settings, person) == 0
    assert pull(live_server, token, person, "after-cancel").json()["type"].endswith("/consent-required")

    page.goto(live_server + PREVIEW)
    page.click("#release")
    expect(page.locator("#granted-message")).to_be_visible()
    row = page.locator("#consents tbody tr").first.inner_text()
    assert "住房和城乡建设局" in row and "无房证明" in row and "户籍证明" in row and "有效" in row
    page.close()

    released = pull(live_server, token, person, "after-release")
    assert released.status_code == 200, released.text
    assert list(released.json()["answer"]["data"]) == list(matter.fields_for(PROOF))


def test_bad_input_is_a_problem_naming_the_parameter_and_records_nothing(
        live_server: str, settings: Settings, residents: list[DemoResident]) -> None:
    person = residents[0]
    citizen = _bearer(assertion(live_server, person))
    as_api = {**citizen, "Accept": "application/json"}
    for query, parameter in ((f"matter=NOPE&department=ZJ", "matter"), (f"matter={MATTER}&department=MZ", "department"),
                             (f"matter={MATTER}&department=ZJ&proof=DEATH", "proof"),
                             (f"matter={MATTER}&department=ZJ&days=0", "days"),
                             (f"matter={MATTER}&department=ZJ&days=x", "days"),
                             (f"matter={MATTER}&department=ZJ&days={'9' * 4301}", "days")):
        answer = httpx.get(f"{live_server}/portal/consents/new?{query}", headers=as_api)
        assert answer.status_code == 400 and answer.headers["Content-Type"] == "application/problem+json", query
        assert answer.json()["errors"][0]["parameter"] == parameter, answer.json()
    page = httpx.get(f"{live_server}/portal/consents/new?matter=NOPE&department=ZJ", headers={"Accept": "text/html"},
                     cookies={"mz_identity": assertion(live_server, person)})  # a browser: signed in by its cookie
    assert page.status_code == 400 and "text/html" in page.headers["Content-Type"] and "请求内容有误" in page.text
    assert "部门发来的授权链接有误" in page.text  # the citizen came from the department's site: its link is at fault

    previewed = httpx.post(f"{live_server}/api/v1/me/consents/preview", headers=citizen,
                           json={"matter": MATTER, "proofs": [PROOF], "department": "ZJ", "days": 30})
    assert previewed.status_code == 200
    assert previewed.json()["proofs"][0]["source_department_name_zh"] == "金华市不动产登记中心"
    wrong = httpx.post(f"{live_server}/api/v1/me/consents/preview", headers=citizen,
                       json={"matter": MATTER, "proofs": ["DEATH"], "department": "ZJ", "days": 30})
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["pointer"] == "#/proofs"

    form = {"matter": MATTER, "department": "ZJ", "proof": PROOF, "days": "30", "decision": "release"}
    forged = httpx.post(f"{live_server}/portal/consents", headers=citizen, data=form)  # no form token
    assert forged.status_code == 400 and "尚未授权" in forged.text  # shown the preview again, nothing recorded
    assert consents_recorded(settings, person) == 0
