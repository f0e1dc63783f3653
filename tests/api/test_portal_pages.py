"""The citizen portal (市民服务) in headless Chromium, as a new user uses it: sign in through the
development identity provider, get a 无房证明, see it listed, download the PDF (its signature
checked by poppler's pdfsig, its page rendered by pdftoppm), see the access in "who used my
data", sign out; and the forms' refusals (no form token, unknown subject, no purpose)."""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from api.settings import Settings
from catalog.city_time import BEIJING
from demo.data import DemoResident, sample_residents
from tests.support.pdf_tools import nss_db_trusting, require_tool, run_pdfsig, signed_whole

UNKNOWN_PERSON = ("张三", "11010519491231002X")  # a valid ID number the demo sources do not hold


@pytest.fixture
def resident(settings: Settings) -> DemoResident:
    return sample_residents(settings.sources_dir, 1)[0]


def sign_in(page: Page, base: str, name: str, id_number: str) -> None:
    """From the portal's sign-in link through the dev IdP's page, back to the portal."""
    page.goto(f"{base}/portal")
    page.click("#sign-in")
    page.fill("input[name=name]", name)
    page.fill("input[name=id_number]", id_number)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/portal")


def _minutes(hh_mm: str) -> int:
    return int(hh_mm[:2]) * 60 + int(hh_mm[3:])


def test_get_a_certificate_download_it_and_see_who_used_my_data(
        browser: Browser, live_server: str, resident: DemoResident, tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(live_server)
    page.click("header nav >> text=市民服务")
    assert "登录后，您可以在网上开具本人的电子证明" in page.locator("main").inner_text()
    page.screenshot(path=str(tmp_path / "portal-signed-out.png"), full_page=True)

    sign_in(page, live_server, resident.name, resident.id_number)
    masked = resident.id_number[:6] + "********" + resident.id_number[-4:]
    assert page.locator(".greeting").inner_text() == f"您好，{resident.name}（身份证号 {masked}）"
    ends = (datetime.now(BEIJING) + timedelta(hours=1)).strftime("%H:%M")  # the sign-in lasts an hour
    assert re.fullmatch(r"本次登录 (\d\d:\d\d)（北京时间）到期，到期后需重新登录",
                        until := page.locator("#signed-in-until").inner_text()), until
    apart = abs(_minutes(until[5:10]) - _minutes(ends))
    assert min(apart, 24 * 60 - apart) <= 1, (until, ends)
    assert resident.id_number not in page.content()
    proofs = page.locator("li[id^=proof-]")
    assert "网上开具" in proofs.first.inner_text()
    housing = page.locator("#proof-NO_HOUSING")
    assert "无房证明" in housing.inner_text() and "不动产登记中心" in housing.inner_text()
    page.screenshot(path=str(tmp_path / "portal-request.png"), full_page=True)

    page.check("#choose-NO_HOUSING")
    page.fill("input[name=purpose]", "申请公租房")
    page.click("form.portal-form button[type=submit]")
    preview = page.locator("#preview").inner_text()  # what will be issued, before anything is pulled
    assert "确认开具" in preview and "金华市不动产登记中心" in preview and "申请公租房" in preview
    assert "是否有不动产登记记录" in preview and "自出具时起 30 天" in preview
    page.screenshot(path=str(tmp_path / "portal-preview.png"), full_page=True)
    page.click("#confirm")
    page.wait_for_url(f"{live_server}/portal/certificates?issued=*")
    assert page.locator("#issued-message").inner_text().startswith("已开具“无房证明")
    assert "证明编号 1.2.156.3005.2.1001." in page.locator("#issued-message").inner_text()
    row = page.locator("#certificate-1")
    listed = row.inner_text()
    assert "无房证明" in listed and "金华市不动产登记中心" in listed and "申请公租房" in listed
    assert row.locator(".status").inner_text() == "有效"
    page.screenshot(path=str(tmp_path / "portal-certificates.png"), full_page=True)

    with page.expect_download() as download:
        row.locator("text=下载 PDF").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    root_pem = page.request.get(f"{live_server}/api/v1/trust/root.pem").body()
    report = run_pdfsig(pdf, tmp_path, nss_db_trusting(root_pem, tmp_path))
    assert "Signature Validation: Signature is Valid." in report and signed_whole(report)
    assert "Certificate Validation: Certificate is Trusted." in report
    pdftoppm = require_tool("pdftoppm", "poppler-utils")
    subprocess.run([pdftoppm, "-png", "-r", "60", "-singlefile", str(tmp_path / "document.pdf"),
                    str(tmp_path / "certificate")], check=True, timeout=60)
    png = (tmp_path / "certificate.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000

    page.click(".portal-nav >> text=谁用了我的数据")
    access = page.locator("#access-log tbody tr").first.inner_text()
    assert "不动产登记中心" in access and "无房证明" in access and "本人申请开具电子证明" in access
    assert "申请公租房" in access and "已允许调取" in access
    page.screenshot(path=str(tmp_path / "portal-access-log.png"), full_page=True)

    listed_before = context.new_page()  # a tab still showing the list once the sign-in has ended
    listed_before.goto(f"{live_server}/portal/certificates")
    page.click("text=退出登录")
    page.wait_for_url(f"{live_server}/portal")
    assert page.locator("#sign-in").is_visible()
    assert page.request.get(f"{live_server}/portal/certificates").status == 401
    listed_before.locator("#certificate-1 >> text=下载 PDF").click()  # a page saying why, not a failed download
    expect(listed_before.locator("main")).to_contain_text("请重新登录后再试")
    assert listed_before.locator("h1").inner_text().startswith("请先登录")  # its heading says what to do
    context.close()


def test_a_form_without_its_token_is_refused(browser: Browser, live_server: str, resident: DemoResident) -> None:
    page = browser.new_page()
    sign_in(page, live_server, resident.name, resident.id_number)
    forged = page.request.post(f"{live_server}/portal/certificates",
                               form={"proof": "NO_HOUSING", "purpose": "申请公租房"}, max_redirects=0)
    assert forged.status == 400
    assert "页面已过期或来源不明" in forged.text()
    page.goto(f"{live_server}/portal/certificates")
    assert page.locator(".empty").inner_text().startswith("您还没有电子证明")
    page.close()


def test_refusals_are_shown_on_the_form(browser: Browser, live_server: str, tmp_path: Path) -> None:
    page = browser.new_page()
    sign_in(page, live_server, *UNKNOWN_PERSON)
    page.check("#choose-NO_HOUSING")
    page.fill("input[name=purpose]", "   ")
    page.click("form.portal-form button[type=submit]")
    assert page.locator("#form-error").inner_text() == "请填写用途（1 至 100 个字）。"
    assert page.is_checked("#choose-NO_HOUSING")
    page.fill("input[name=purpose]", "申请😀")
    page.click("form.portal-form button[type=submit]")
    assert page.locator("#form-error").inner_text() == "用途中有证明无法打印的字：「😀」，请修改。"

    # on a phone the field at fault is far below the list of proofs: the page opens at the field,
    # with the reason beside it and the field marked for screen readers
    phone = browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    sign_in(phone, live_server, *UNKNOWN_PERSON)
    phone.check("#choose-NO_HOUSING")
    phone.fill("input[name=purpose]", "申请😀")
    phone.click("form.portal-form button[type=submit]")
    purpose, beside = phone.locator("input[name=purpose]"), phone.locator("#purpose-error")
    assert beside.inner_text() == "用途中有证明无法打印的字：「😀」，请修改。"
    assert purpose.get_attribute("aria-invalid") == "true" and purpose.get_attribute("aria-describedby") == "purpose-error"
    for shown in (purpose, beside):
        box = shown.bounding_box()
        assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 740, box  # in view as it opens
    phone.close()

    page.fill("input[name=purpose]", "办理签证")
    page.click("form.portal-form button[type=submit]")
    page.click("#confirm")
    assert "没有您的相关记录" in page.locator("#form-error").inner_text()
    page.screenshot(path=str(tmp_path / "portal-refused.png"), full_page=True)
    page.goto(f"{live_server}/portal/certificates")
    assert page.locator(".empty").count() == 1
    page.close()


def test_a_name_the_certificate_cannot_print_is_told_to_ask_at_a_counter(browser: Browser, live_server: str,
                                                                          resident: DemoResident) -> None:
    page = browser.new_page()
    sign_in(page, live_server, "刘𠮷", resident.id_number)
    page.check("#choose-NO_HOUSING")
    page.fill("input[name=purpose]", "申请公租房")
    page.click("form.portal-form button[type=submit]")
    page.click("#confirm")
    assert page.locator("#form-error").inner_text() == "文书所用字体缺少「𠮷」字，暂不能在网上出具，请到办事窗口办理。"
    page.goto(f"{live_server}/portal/access-log")
    assert page.locator(".empty").inner_text() == "还没有部门使用过您的数据。"  # nothing was pulled
    page.close()


def test_sign_in_returns_only_to_a_path_of_this_site(app: Flask) -> None:
    form = {"name": "张三", "id_number": UNKNOWN_PERSON[1]}
    client = app.test_client()
    assert client.post("/dev-idp/login", data={**form, "next": "/portal"}).headers["Location"] == "/portal"
    for elsewhere in ("//evil.example/portal", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "portal"):
        response = client.post("/dev-idp/login", data={**form, "next": elsewhere})
        assert response.status_code == 200 and "已登录：张三" in response.get_data(as_text=True)


def test_the_sign_in_cookie_outlives_the_sign_in_so_its_end_is_announced(app: Flask) -> None:
    """A browser drops a cookie at its Max-Age: were it the sign-in's own lifetime, a citizen coming
    back after the sign-in ended would get the plain sign-in page with no word why. The cookie
    outlives the assertion it holds, so the portal still sees it and says 您的登录已过期."""
    client = app.test_client()
    signed_in = client.post("/dev-idp/login", data={"name": "张三", "id_number": UNKNOWN_PERSON[1], "next": "/portal"})
    [cookie] = [header for header in signed_in.headers.getlist("Set-Cookie") if header.startswith("mz_identity=")]
    max_age = int(re.search(r"Max-Age=(\d+)", cookie).group(1))
    payload = cookie.split("=", 1)[1].split(";")[0].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert max_age >= claims["exp"] - claims["iat"] + 3600, (max_age, claims)


def test_a_consent_link_followed_while_signed_out_comes_back_after_sign_in(app: Flask) -> None:
    """A department sends the citizen to its consent link; the citizen signs in first and lands
    on that preview, not on the portal's home page with the department's request gone."""
    from urllib.parse import parse_qs, urlsplit

    link = "/portal/consents/new?matter=PUBLIC_RENTAL_HOUSING&department=ZJ&proof=NO_HOUSING&days=30"
    client = app.test_client()
    page = client.get(link, headers={"Accept": "text/html"}).get_data(as_text=True)
    sign_in = re.search(r'id="sign-in" href="([^"]+)"', page)
    assert sign_in is not None, page
    [back_to] = parse_qs(urlsplit(html.unescape(sign_in.group(1))).query)["next"]
    assert back_to == link
    signed_in = client.post("/dev-idp/login", data={"name": "张三", "id_number": UNKNOWN_PERSON[1], "next": back_to})
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == link
    assert "授权前确认" in client.get(link).get_data(as_text=True)


def test_a_form_posted_after_the_sign_in_ended_comes_back_with_what_it_asked(app: Flask) -> None:
    """A citizen slow to read a department's request for consent (with a screen reader, say)
    agrees after the hour of the sign-in: after signing in again the same request is shown to
    agree on, not the portal's home page with the request gone. A proof chosen on the issuing
    form stays chosen (what was typed as the purpose is not carried through the identity
    provider: it may say anything about the citizen)."""
    from urllib.parse import parse_qs, urlsplit

    client = app.test_client()

    def sign_in_returns_to(path: str, form: dict[str, object]) -> str:
        page = client.post(path, data=form, headers={"Accept": "text/html"})
        assert page.status_code == 401
        sign_in = re.search(r'id="sign-in" href="([^"]+)"', page.get_data(as_text=True))
        assert sign_in is not None
        [back_to] = parse_qs(urlsplit(html.unescape(sign_in.group(1))).query)["next"]
        return back_to

    terms = {"matter": "PUBLIC_RENTAL_HOUSING", "department": "ZJ", "proof": ["NO_HOUSING", "INCOME"], "days": "30"}
    preview = sign_in_returns_to("/portal/consents", {**terms, "decision": "release", "csrf_token": "stale"})
    assert urlsplit(preview).path == "/portal/consents/new"
    assert parse_qs(urlsplit(preview).query) == {**{name: [value] for name, value in terms.items() if name != "proof"},
                                                 "proof": terms["proof"]}
    form = sign_in_returns_to("/portal/certificates", {"proof": "NO_HOUSING", "purpose": "申请公租房", "csrf_token": "x"})
    assert form == "/portal?proof=NO_HOUSING"
    client.post("/dev-idp/login", data={"name": "张三", "id_number": UNKNOWN_PERSON[1], "next": form})
    again = client.get(preview).get_data(as_text=True)
    assert "授权前确认" in again and "收入证明" in again
    chosen = re.search(r'<input[^>]*value="NO_HOUSING"[^>]*>', client.get(form).get_data(as_text=True))
    assert chosen is not None and "checked" in chosen.group(0)


def test_another_sites_page_cannot_use_the_sign_in_cookie_to_change_anything(app: Flask) -> None:
    """A page elsewhere posting JSON to the citizen API with the visitor's sign-in cookie (the
    API takes no form token) acts for nobody: no consent is recorded. Reading, and the portal's
    own pages, are as before."""
    client = app.test_client()
    client.post("/dev-idp/login", data={"name": "张三", "id_number": UNKNOWN_PERSON[1], "next": "/portal"})
    terms = {"matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["NO_HOUSING"], "department": "ZJ", "days": 365}
    forged = client.post("/api/v1/me/consents", json=terms,
                         headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 401 and forged.mimetype == "application/problem+json", forged.get_data(as_text=True)
    assert client.get("/api/v1/me/consents", headers={"Sec-Fetch-Site": "cross-site"}).get_json() == []
    own = client.post("/api/v1/me/consents", json=terms, headers={"Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 201, own.get_data(as_text=True)
    assert [c["id"] for c in client.get("/api/v1/me/consents").get_json()] == [own.get_json()["id"]]
    # nor can it sign the visitor in as someone of its choosing, to have them act as that person
    elsewhere = app.test_client()
    for path, form in (("/dev-idp/login", {"name": "李四", "id_number": UNKNOWN_PERSON[1]}),
                       ("/dev-idp/staff-login", {"staff_number": "ZJ-0001"})):
        signed = elsewhere.post(path, data=form, headers={"Sec-Fetch-Site": "cross-site"})
        assert signed.status_code == 403 and "其他网站的页面不能替您登录" in signed.get_data(as_text=True)
        assert not signed.headers.getlist("Set-Cookie"), signed.headers


def test_my_consents_can_be_seen_and_withdrawn(browser: Browser, live_server: str, resident: DemoResident) -> None:
    import httpx

    assertion = httpx.post(f"{live_server}/dev-idp/token",
                           json={"name": resident.name, "id_number": resident.id_number}).json()["assertion"]
    me = {"Authorization": f"Bearer {assertion}"}
    granted = httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["NO_HOUSING"], "department": "ZJ", "days": 30}).json()
    page = browser.new_page()
    sign_in(page, live_server, resident.name, resident.id_number)
    page.click("nav.portal-nav >> text=我的授权")
    row = page.locator(f"#consent-{granted['id']}")
    assert "申请公租房" in row.inner_text() and "无房证明" in row.inner_text() and "有效" in row.inner_text()
    row.locator("button", has_text="撤回授权").click()
    page.wait_for_url(f"{live_server}/portal/consents?withdrawn=*")
    assert "已撤回" in page.locator(f"#consent-{granted['id']}").inner_text()
    assert page.locator("#withdrawn-message").count() == 1
    assert httpx.get(f"{live_server}/api/v1/me/consents", headers=me).json()[0]["status"] == "withdrawn"

    # a link that only says so announces nothing: the page tells what happened to the citizen's own consents
    other = httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["NO_HOUSING"], "department": "ZJ", "days": 30}).json()
    for query in (f"withdrawn={other['id']}", "withdrawn=made-up", f"granted={granted['id']}", "granted=made-up"):
        page.goto(f"{live_server}/portal/consents?{query}")
        assert page.locator("#withdrawn-message, #granted-message").count() == 0, query
    page.goto(f"{live_server}/portal/consents?granted={other['id']}")
    assert page.locator("#granted-message").count() == 1
    page.close()


def test_who_used_my_data_names_the_staff_member(browser: Browser, live_server: str, settings: Settings,
                                                 resident: DemoResident) -> None:
    import httpx

    from tests.api.test_exchange_requests import client_token, consent, envelope

    consent(live_server, resident)
    answer = httpx.post(f"{live_server}/api/v1/exchange/requests", json=envelope(resident, "gzf-000123-9"),
                        headers={"Authorization": f"Bearer {client_token(settings)}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    page = browser.new_page()
    sign_in(page, live_server, resident.name, resident.id_number)
    page.goto(f"{live_server}/portal/access-log")
    assert "经办人员：zj-0042" in page.locator("#access-log").inner_text()
    page.close()


def test_proofs_are_grouped_by_life_event_and_only_ones_about_me(browser: Browser, live_server: str,
                                                                   resident: DemoResident) -> None:
    page = browser.new_page()
    sign_in(page, live_server, resident.name, resident.id_number)
    groups = page.locator("h2.life-event").all_inner_texts()
    assert groups[0] == "住房保障" and len(groups) == len(set(groups)) > 2
    offered = page.locator("form.portal-form").inner_text()
    assert "无房证明" in offered and "死亡证明" not in offered and "出生医学证明" not in offered
    housing = page.locator("h2.life-event:has-text('住房保障') + ul.proof-choices").inner_text()
    assert "无房证明" in housing
    page.close()


def test_an_owner_is_told_why_and_offered_the_search_result(browser: Browser, live_server: str,
                                                             settings: Settings) -> None:
    from catalog.loading import bundled_catalog_path, load_catalog
    from tests.api.test_truthful_certificates import resident_where

    no_housing = load_catalog(bundled_catalog_path()).proofs["NO_HOUSING"]
    page = browser.new_page()
    sign_in(page, live_server, *reversed(resident_where(settings, no_housing, fact_holds=False)))
    page.check("#choose-NO_HOUSING")
    page.fill("input[name=purpose]", "申请公租房")
    page.click("form.portal-form button[type=submit]")
    page.click("#confirm")
    assert page.locator("#form-error").inner_text() == no_housing.asserts.refusal_zh  # type: ignore[union-attr]
    page.click("#alternative button")
    assert "不动产登记信息查询结果" in page.locator("#preview").inner_text()
    page.click("#confirm")
    page.wait_for_url(f"{live_server}/portal/certificates?issued=*")
    assert page.locator("#issued-message").inner_text().startswith("已开具“不动产登记信息查询结果”")
    page.close()
