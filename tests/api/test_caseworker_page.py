"""The caseworker page (办件工作台) in headless Chromium, as a housing-bureau caseworker uses it:
sign in as oneself through the identity provider, pick a demo household, file a 公租房
application and watch each proof settle live, then read the decision with its provenance (and
the applicant reads the caseworker's name in their data-use log); an owner household is not
eligible; a shaded income declaration is flagged once 事后核查 has run; no ID number ever
travels in a URL or sits in the page. Staff sessions are tested over HTTP in
test_staff_sessions.py."""

from __future__ import annotations

import dataclasses
import re
import shutil
import threading
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import ECKey
from playwright.sync_api import Browser, Page, expect

from api.database import standalone_session
from api.jobs import run_jobs
from api.settings import Settings
from catalog.versions import read_live_catalog
from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import Catalog
from exchange.clients import ClientScope, register_client
from demo.identity_provider import DevIdentityProvider
from demo.identity_provider import demo_staff, issue_dev_staff_assertion
from demo.data import DemoHousehold
from tests.api.test_applications import households
from tests.support.cli import cli_environment, run_cli
from tests.support.connector import Connector
from tests.support.pdf_tools import page_texts

SETTLED = {"resolved", "not_found", "not_required", "abolished", "committed", "investigating", "investigated"}
RECEIPT = re.compile(r"回执 [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DECIDED_WITHIN_MS = 30_000
SCREENSHOTS = Path("/tmp")


def housing_token(settings: Settings, scope: str = ClientScope.APPLICATIONS_WRITE) -> str:
    """A token of the housing bureau's (ZJ) system with `scope`."""
    with standalone_session(settings.database_url) as session:
        _, token = register_client(session, read_live_catalog(session), "ZJ", "公租房审批系统", [scope])
    return token


def bundled_catalog() -> Catalog:
    return load_catalog(bundled_catalog_path())


def masked(id_number: str) -> str:
    return id_number[:6] + "********" + id_number[-4:]


def sign_in(page: Page, base: str, department: str = "ZJ") -> None:
    """Sign in on the caseworker page as the development provider's demo caseworker of `department`."""
    page.goto(f"{base}/caseworker")
    page.click("#staff-sign-in")
    page.click(f'button[data-department="{department}"]')
    expect(page.locator("#workbench")).to_be_visible()


def choose(page: Page, situation: str, *, income_change: int | None = None) -> None:
    """Pick a situation (and an income declaration) and wait for its households to be listed."""
    with page.expect_response(lambda response: "/caseworker/demo-households" in response.url):
        page.select_option("fieldset.cw-matter:not([hidden]) .cw-situation", situation)
    if income_change is not None:
        with page.expect_response(lambda response: "/caseworker/demo-households" in response.url):
            page.fill("fieldset.cw-matter:not([hidden]) .cw-income-change", str(income_change))
            page.press("fieldset.cw-matter:not([hidden]) .cw-income-change", "Tab")
    expect(page.locator("#submit-application")).to_be_enabled()


def submit_and_watch(page: Page, household_index: int = 0, status: str = "已判定") -> list[str]:
    """File the application for the listed household and wait until it shows `status`; the
    application statuses the page showed on the way."""
    page.evaluate("""() => {
        const status = document.getElementById("application-status");
        window.shownStatuses = [];
        new MutationObserver(() => window.shownStatuses.push(status.textContent))
            .observe(status, {childList: true, characterData: true, subtree: true});
    }""")
    page.check(f"#household-{household_index}")
    page.click("#submit-application")
    expect(page.locator("#application-status")).to_have_text(status, timeout=DECIDED_WITHIN_MS)
    return page.evaluate("window.shownStatuses")


def cell_states(page: Page) -> dict[tuple[str, str], str]:
    cells = page.locator("#proofs td.cw-cell")
    return {(cells.nth(i).get_attribute("data-proof") or "", cells.nth(i).get_attribute("data-party") or ""):
            cells.nth(i).get_attribute("data-state") or "" for i in range(cells.count())}


def no_id_number_leaks(page: Page, household: DemoHousehold, urls: list[str]) -> None:
    content = page.content()
    for member in household.members:
        assert all(member.id_number not in url for url in urls), urls
        assert member.id_number not in content


def test_an_eligible_household_is_decided_with_the_provenance_of_each_rule(
        browser: Browser, live_server: str, settings: Settings) -> None:
    [household] = households(settings, "public_housing_eligible")
    page = browser.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    sign_in(page, live_server)
    [staff] = [member for member in demo_staff(bundled_catalog()) if member.department == "ZJ"]
    assert page.locator("#signed-in-as").inner_text() == \
        f"{staff.name}（工号 {staff.staff_number}）· 金华市住房和城乡建设局 · 窗口受理人员"
    choose(page, "public_housing_eligible")
    first = page.locator("#households tbody tr").first
    assert household.head.name in first.inner_text() and masked(household.head.id_number) in first.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "caseworker-intake.png"), full_page=True)

    statuses = submit_and_watch(page)
    assert statuses[0] == "核验中" and statuses[-1] == "已判定", statuses
    states = cell_states(page)
    assert set(states.values()) <= SETTLED, states
    members = ["applicant", *(f"member:{n}" for n in range(1, len(household.members)))]
    assert [states[("NO_HOUSING", party)] for party in members] == ["resolved"] * len(members)
    assert states[("INCOME", "applicant")] == "committed"
    assert page.locator('#proofs td[data-proof="NO_HOUSING"]').first.inner_text().startswith("已获取数据")

    assert page.locator("#decision-outcome").inner_text() == "符合条件"
    no_property = page.locator('#rules tr[data-rule="no_property"]')
    assert "家庭全体成员均无登记不动产" in no_property.inner_text()
    assert no_property.locator(".cw-result").inner_text() == "成立"
    reads = no_property.locator(".cw-reads li")
    assert reads.count() == len(household.members)
    for i, member in enumerate(household.members):
        read = reads.nth(i).inner_text()
        assert member.name in read and "不动产登记" in read and RECEIPT.search(read) and "数据截至" in read, read
    income = page.locator('#rules tr[data-rule="income_below_line"]').inner_text()
    assert "告知承诺" in income and "承诺编号" in income and "公租房收入线" in income
    paperless = sum(1 for state in states.values() if state != "not_required")
    assert page.locator("#paper-saved").inner_text() == str(paperless)
    assert page.locator("#flagged").is_hidden() and page.locator("#waiting").is_hidden()
    expect(page.locator("#recent tbody tr").first).to_contain_text("符合条件")
    page.screenshot(path=str(SCREENSHOTS / "caseworker-eligible.png"), full_page=True)
    no_id_number_leaks(page, household, urls)

    page.reload()
    expect(page.locator("#workbench")).to_be_visible()
    page.click("#sign-out-form button")
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.locator("#households").count() == 0
    assert [c["name"] for c in page.context.cookies()] == []

    page.goto(f"{live_server}/dev-idp/login?next=/portal/access-log")  # the applicant reads who looked
    page.fill("input[name=name]", household.head.name)
    page.fill("input[name=id_number]", household.head.id_number)
    page.click("button[type=submit]")
    expect(page.locator("main")).to_contain_text(f"经办人员：{staff.name}（工号 {staff.staff_number}）")
    page.close()


def test_a_tab_from_before_a_new_sign_in_says_nothing_was_filed(browser: Browser, live_server: str,
                                                                  settings: Settings) -> None:
    """The caseworker signed out and in again in another tab: the old tab's 提交申请并核验 is
    refused (its page is stale) and the page, reloaded, says the application was not filed,
    so she files it again instead of believing it went in."""
    context = browser.new_context()
    old_tab = context.new_page()
    sign_in(old_tab, live_server)
    choose(old_tab, "public_housing_eligible")
    new_tab = context.new_page()
    new_tab.goto(f"{live_server}/caseworker")
    new_tab.click("#sign-out-form button")
    sign_in(new_tab, live_server)
    old_tab.check("#household-0")
    old_tab.click("#submit-application")
    expect(old_tab.locator("#undone")).to_contain_text("没有提交", timeout=DECIDED_WITHIN_MS)
    expect(old_tab.locator("#undone")).to_be_in_viewport()
    expect(old_tab.locator("#application")).to_be_hidden()
    old_tab.reload()  # said once, not on every later visit
    expect(old_tab.locator("#workbench")).to_be_visible()
    assert old_tab.locator("#undone").is_hidden()
    context.close()


def test_an_owner_household_is_not_eligible(browser: Browser, live_server: str, settings: Settings,
                                            tmp_path: Path) -> None:
    """不符合条件, with the rule that failed and what it read; the 不符合条件告知书 prints on one A4
    sheet, the department and the date on it, nothing else of the page."""
    [household] = households(settings, "owner")
    page = browser.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    sign_in(page, live_server)
    choose(page, "owner")
    submit_and_watch(page)
    assert page.locator("#decision-outcome").inner_text() == "不符合条件"
    no_property = page.locator('#rules tr[data-rule="no_property"]')
    assert no_property.locator(".cw-result").inner_text() == "不成立"
    assert "是否有不动产登记记录：是" in no_property.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "caseworker-owner.png"), full_page=True)

    page.evaluate("window.print = () => {}")  # headless Chromium has no print dialog to wait for
    page.click("#print-notice")
    page.emulate_media(media="print")
    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    assert not page.locator("#proofs").is_visible() and not page.locator("header.site").is_visible()
    text = notice.inner_text()
    assert text.startswith("不符合条件告知书") and f"申请人 {household.members[0].name}（" in text
    assert "是否有不动产登记记录：是" in text and "行政复议" in text and "住房和城乡建设局" in text
    # whom to ask for review, the decision named as one, and no system identifiers on paper
    assert "向金华市人民政府申请行政复议" in text and "依法向人民法院提起行政诉讼" in text and "（以下称本决定）" in text
    assert "回执" not in text and "判定" not in text
    [sheet] = page_texts(page.pdf(path=str(SCREENSHOTS / "caseworker-notice.pdf"), format="A4"), tmp_path)
    # dated as an official document is, and the sources' times said to be Beijing time
    assert sheet.lstrip().startswith("不符合条件告知书") and re.search(r"住房和城乡建设局\s+\d{4}年\d{1,2}月\d{1,2}日", sheet), sheet
    assert "本告知书所载时间均为北京时间" in re.sub(r"\s", "", sheet)
    page.emulate_media(media="screen")
    no_id_number_leaks(page, household, urls)
    page.close()


def test_a_caseworker_on_the_keyboard_keeps_her_place_and_hears_the_decision(browser: Browser,
                                                                            live_server: str) -> None:
    """With a screen reader: filing, or opening a case from the recent list, leaves the focus on
    the application shown (not dropped to the page's top), and what is announced is the
    decision itself, not only that there is one."""
    page = browser.new_page()
    sign_in(page, live_server)
    choose(page, "owner")
    page.check("#household-0")
    page.focus("#submit-application")
    page.keyboard.press("Enter")
    expect(page.locator("#application-announcement")).to_have_text("已判定：不符合条件", timeout=DECIDED_WITHIN_MS)
    assert page.evaluate("document.activeElement.id") == "application-title"
    expect(page.locator("#recent button")).not_to_have_count(0)
    names = page.locator("#recent button").all_text_contents()
    cases = page.locator("#recent tbody tr td:first-child").all_text_contents()
    assert names == [f"查看案件 {case}" for case in cases], names  # told apart in a screen reader's list of buttons
    page.focus("#recent button >> nth=0")
    page.keyboard.press("Enter")
    expect(page.locator("#application-announcement")).to_have_text(re.compile("^已判定："), timeout=DECIDED_WITHIN_MS)
    assert page.evaluate("document.activeElement.id") == "application-title"
    page.close()


def test_a_shaded_income_declaration_is_flagged_after_post_check(
        browser: Browser, live_server: str, settings: Settings) -> None:
    [_, household] = households(settings, "public_housing_eligible", 2)
    assert household.monthly_income_per_person > Decimal(500)
    page = browser.new_page()
    sign_in(page, live_server)
    choose(page, "public_housing_eligible", income_change=-500)
    submit_and_watch(page, household_index=1)
    assert page.locator("#decision-outcome").inner_text() == "符合条件"
    assert page.locator('#commitments tr[data-commitment="INCOME"] .cw-check').inner_text() == "待核查"

    checked = run_cli(cli_environment(settings.database_url, settings.var_dir), "commitments", "verify")
    assert checked.returncode == 0 and "不实 1 件" in checked.stdout, checked.stdout + checked.stderr
    page.click("#refresh-application")
    expect(page.locator("#flagged")).to_contain_text("承诺核查不实")
    assert page.locator("#decision-outcome").inner_text() == "需人工审核"
    assert page.locator('#commitments tr[data-commitment="INCOME"] .cw-check').inner_text() == "核查不实"
    # the recent list is fetched again after the application is shown: wait for it, not only for the row
    expect(page.locator("#recent tbody tr")).to_have_count(1)
    expect(page.locator("#recent tbody tr")).to_contain_text("承诺不实")
    page.screenshot(path=str(SCREENSHOTS / "caseworker-flagged.png"), full_page=True)
    page.close()


def test_a_caseworker_withdraws_an_application(browser: Browser, live_server: str, settings: Settings) -> None:
    """The applicant gives up at the counter: the caseworker withdraws the application, confirms,
    and the page and the recent list say 已撤回; nothing more can be withdrawn. An application
    decided eligible is concluded and offers no withdrawal; the same household filed again waits
    for a caseworker's review, and that one is withdrawn. On a phone-sized window, as a caseworker
    at a mobile counter uses it."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(page, live_server)
    choose(page, "public_housing_eligible")
    submit_and_watch(page)
    expect(page.locator("#decision")).to_contain_text("符合条件")
    expect(page.locator("#withdraw-actions")).to_be_hidden()
    submit_and_watch(page)  # the same household again: a possible duplicate, for a caseworker
    expect(page.locator("#decision")).to_contain_text("需人工审核")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("#withdraw-application")
    expect(page.locator("#application-status")).to_have_text("已撤回")
    expect(page.locator("#waiting")).to_be_in_viewport()  # the word is where the caseworker looks, not 3,000 px up
    assert dialogs and "撤回" in dialogs[0]
    expect(page.locator("#waiting")).to_contain_text("撤回，不再核验和判定")
    expect(page.locator("#withdraw-actions")).to_be_hidden()
    expect(page.locator("#recent tbody tr").first).to_contain_text("已撤回")
    assert not page.locator("#withdraw-error").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "caseworker-withdrawn.png"), full_page=True)
    page.close()


@pytest.mark.slow
def test_a_waiting_application_names_the_source_that_is_down_and_resumes_by_itself(
        browser: Browser, settings: Settings, civil_affairs: tuple[str, Connector, dict[str, str]]) -> None:
    base, connector, env = civil_affairs
    page = browser.new_page()
    sign_in(page, base)
    choose(page, "public_housing_eligible")
    page.check('fieldset.cw-matter:not([hidden]) [data-option="priority_allocation"]')
    submit_and_watch(page, status="等待中")
    waiting = page.locator("#waiting")
    assert "民政局暂时无法应答" in waiting.inner_text() and "自动重试" in waiting.inner_text()
    assert "无需重新提交" in waiting.inner_text()
    assert page.locator('#proofs td[data-proof="MINIMUM_LIVING"]').get_attribute("data-state") == "waiting"
    assert page.locator("#decision").is_hidden()
    expect(page.locator("#recent tbody tr").first).to_contain_text("等待中")
    page.screenshot(path=str(SCREENSHOTS / "caseworker-waiting.png"), full_page=True)

    connector.start()
    stop = threading.Event()
    jobs = threading.Thread(target=run_jobs, args=(
        dataclasses.replace(settings, sources_file=Path(env["MIANZHENG_SOURCES_FILE"])), 0.3, stop))
    jobs.start()
    try:
        expect(page.locator("#application-status")).to_have_text("已判定", timeout=DECIDED_WITHIN_MS)
    finally:
        stop.set()
        jobs.join(timeout=30)
    # the source's own answer now: its record, or none for a household without assistance
    assert page.locator('#proofs td[data-proof="MINIMUM_LIVING"]').get_attribute("data-state") in ("resolved", "not_found")
    assert waiting.is_hidden() and page.locator("#decision").is_visible()
    page.close()


def test_an_application_waiting_for_commitments_says_who_signs_and_how_it_goes_on(
        browser: Browser, live_server: str, settings: Settings) -> None:
    """Filed by the department's system without the applicant's commitments, an application waits
    for them: the workbench must say who signs them, how they reach the exchange and that it goes
    on by itself, not leave the caseworker with 重新读取 and 撤回 alone."""
    from datetime import datetime, timezone

    from demo.applications import public_housing_request

    [household] = households(settings, "public_housing_eligible")
    body = {**public_housing_request(household, "gzf-no-commitments", signed_at=datetime.now(timezone.utc)),
            "commitments": []}
    filed = httpx.post(f"{live_server}/api/v1/matters/PUBLIC_RENTAL_HOUSING/applications", json=body, timeout=60,
                       headers={"Authorization": f"Bearer {housing_token(settings)}"})
    assert filed.status_code in (201, 202) and filed.json()["status"] == "waiting", filed.text
    page = browser.new_page()
    sign_in(page, live_server)
    page.locator("#recent button").first.click()
    expect(page.locator("#application-status")).to_have_text("等待中")
    waiting = page.locator("#waiting").inner_text()
    assert "待申请人签署告知承诺" in waiting and "签署" in waiting and "受理系统提交" in waiting, waiting
    assert "自动继续" in waiting, waiting
    page.close()


def test_demo_households_need_a_client_token_and_demo_data(live_server: str, settings: Settings) -> None:
    """A department system's token (a machine client) lists them too, naming itself as caseworker."""
    url = f"{live_server}/caseworker/demo-households"
    assert httpx.get(url, params={"situation": "owner"}).status_code == 401
    bearer = {"Authorization": f"Bearer {housing_token(settings)}"}
    listed = httpx.get(url, params={"situation": "owner"}, headers=bearer)
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    [household, *_] = listed.json()
    assert household["request"]["caseworker_id"] == bearer["Authorization"].split("_")[1]
    head = household["request"]["applicant"]
    assert household["members"][0] == {"name": head["name"], "id_masked": masked(head["id_number"]),
                                       "age": household["members"][0]["age"], "relation": "head"}
    unknown = httpx.get(url, params={"situation": "rich"}, headers=bearer)
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["parameter"] == "situation"
    shutil.rmtree(settings.sources_dir)
    assert httpx.get(url, params={"situation": "owner"}, headers=bearer).status_code == 404


def test_a_demo_households_request_is_filed_whatever_its_random_request_id_holds(
        live_server: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workbench's demo request ids are random; one in some fifteen thousand written as bare hex
    held 18 characters an ID number could be (0329704271514d198100470153836068), and the filing,
    which keeps no ID number in clear, refused it: 申请内容有误 for no fault of the caseworker."""
    import uuid

    from demo import caseworker

    monkeypatch.setattr(caseworker, "uuid4", lambda: uuid.UUID("0329704271514d198100470153836068"))
    bearer = {"Authorization": f"Bearer {housing_token(settings)}"}
    [household, *_] = httpx.get(f"{live_server}/caseworker/demo-households", params={"situation": "owner"},
                                headers=bearer).json()
    filed = httpx.post(f"{live_server}/api/v1/matters/PUBLIC_RENTAL_HOUSING/applications", headers=bearer,
                       json=household["request"], timeout=60)
    assert filed.status_code in (201, 202), filed.text


def test_demo_controls_only_with_the_development_identity_provider(
        browser: Browser, settings: Settings, tmp_path: Path) -> None:
    """In production the city's identity provider hands the staff assertion over; no demo controls."""
    from api.app import create_app
    from tests.support.live_server import serving

    city_idp = DevIdentityProvider(signing_key=ECKey.generate_key("P-256", auto_kid=True), issuer="urn:city:idp")
    key_file = tmp_path / "city-idp.pem"
    key_file.write_bytes(city_idp.signing_key.as_pem(private=False))
    production = dataclasses.replace(settings, dev_idp=False, idp_issuer=city_idp.issuer, idp_public_key_file=key_file)
    [staff] = [member for member in demo_staff(bundled_catalog()) if member.department == "ZJ"]
    app = create_app(production)
    with serving(app) as base:
        page = browser.new_page()
        page.goto(f"{base}/caseworker")
        assert page.locator("#staff-sign-in").count() == 0 and "统一身份认证平台" in page.locator("main").inner_text()
        page.request.post(f"{base}/caseworker/session", form={"assertion": issue_dev_staff_assertion(city_idp, staff)})
        page.goto(f"{base}/caseworker")
        expect(page.locator("#workbench")).to_be_visible()
        assert page.locator(".cw-demo, .cw-situation, #application-form").count() == 0
        assert "业务系统通过接口提交" in page.locator("main").inner_text()
        assert page.request.get(f"{base}/caseworker/demo-households", params={"situation": "owner"}).status == 404
        page.close()
    app.extensions["mianzheng"].engine.dispose()


def test_the_city_providers_hand_over_opens_the_workbench_and_another_sites_signs_nobody_in(
        browser: Browser, settings: Settings, tmp_path: Path) -> None:
    """The provider's page posts the assertion from its own site, and the workbench opens signed
    in at once; the same post from another site (login CSRF), or from a page that hides its
    origin, is refused and sets no session."""
    from api.app import create_app
    from tests.support.live_server import serving

    city_idp = DevIdentityProvider(signing_key=ECKey.generate_key("P-256", auto_kid=True), issuer="urn:city:idp")
    key_file = tmp_path / "city-idp.pem"
    key_file.write_bytes(city_idp.signing_key.as_pem(private=False))
    production = dataclasses.replace(settings, dev_idp=False, idp_issuer=city_idp.issuer, idp_public_key_file=key_file,
                                     idp_origins=("http://sso.city.example", "http://hand-over.city.example"))
    [caseworker, stranger] = [next(member for member in demo_staff(bundled_catalog()) if member.department == code)
                              for code in ("ZJ", "MZ")]
    app = create_app(production)
    with serving(app) as base:
        signed_out = httpx.get(f"{base}/caseworker").text  # somewhere to click, not only a sentence
        assert 'id="city-sign-in" href="http://sso.city.example"' in signed_out, signed_out  # the first configured

        def posting_page(site: str, assertion: str, head: str = "", policy: str | None = None) -> Page:
            """A page of `site` (under the referrer `policy`) that posts `assertion` to the hand-over as soon as it loads."""
            page = browser.new_page()
            form = (f'{head}<form method="post" action="{base}/caseworker/session">'
                    f'<input type="hidden" name="assertion" value="{assertion}"></form>'
                    '<script>document.forms[0].submit()</script>')
            headers = {"Referrer-Policy": policy} if policy else {}
            page.route(f"{site}/**", lambda route: route.fulfill(status=200, content_type="text/html", body=form,
                                                                 headers=headers))
            page.goto(f"{site}/sign-in")
            return page

        hidden = posting_page("http://sso.city.example", issue_dev_staff_assertion(city_idp, caseworker),
                              policy="no-referrer")  # the browser sends `Origin: null`: no site can be told apart
        expect(hidden.locator("#sign-in-error")).to_contain_text("不是来自本市统一身份认证平台")
        hidden.close()
        provider = posting_page("http://sso.city.example", issue_dev_staff_assertion(city_idp, caseworker),
                                head='<meta name="referrer" content="origin">', policy="no-referrer")  # as documented
        expect(provider.locator("#workbench")).to_be_visible()
        assert provider.url == f"{base}/caseworker"
        assert f"{caseworker.name}（工号 {caseworker.staff_number}）" in provider.locator("main").inner_text()
        provider.close()

        attacker = posting_page("http://attacker.example", issue_dev_staff_assertion(city_idp, stranger))
        expect(attacker.locator("#sign-in-error")).to_contain_text("不是来自本市统一身份认证平台")
        assert attacker.context.cookies() == []
        attacker.goto(f"{base}/caseworker")
        assert attacker.locator("#workbench").count() == 0 and attacker.locator("#sign-in").is_visible()
        attacker.close()
    app.extensions["mianzheng"].engine.dispose()


def test_the_first_click_after_editing_the_income_files_the_application(
        browser: Browser, live_server: str, settings: Settings) -> None:
    """The field's change event relists the households on the same click; the click still files."""
    page = browser.new_page()
    sign_in(page, live_server)
    choose(page, "public_housing_eligible")
    page.fill("fieldset.cw-matter:not([hidden]) .cw-income-change", "-300")  # still focused: no change event yet
    page.click("#submit-application")
    expect(page.locator("#application-status")).to_have_text("已判定", timeout=DECIDED_WITHIN_MS)
    page.close()


def test_a_household_clicked_right_after_editing_the_income_is_the_one_filed(
        browser: Browser, live_server: str, settings: Settings) -> None:
    """Clicking a household while the income field still has the focus relists the households (its
    change event); the click must stay on the household clicked, and the application be its own,
    not the one chosen before (whose members' data would be pulled in the caseworker's name)."""
    page = browser.new_page()
    sign_in(page, live_server)
    choose(page, "public_housing_eligible")
    expect(page.locator("#household-2")).to_be_visible()
    head = page.locator('label[for="household-2"]').last.inner_text()
    page.fill("fieldset.cw-matter:not([hidden]) .cw-income-change", "-300")  # still focused: no change event yet
    with page.expect_response(lambda response: "/caseworker/demo-households" in response.url):
        page.click("#household-2")
    expect(page.locator("#household-2")).to_be_checked()
    with page.expect_request(lambda request: request.method == "POST" and "/applications" in request.url) as filed:
        page.click("#submit-application")
    assert filed.value.post_data_json["applicant"]["name"] == head
    expect(page.locator("#application-status")).to_have_text("已判定", timeout=DECIDED_WITHIN_MS)
    page.close()


def test_a_proof_a_publication_dropped_keeps_its_name_on_the_workbench(browser: Browser, live_server: str,
                                                                       settings: Settings) -> None:
    """A publication takes a proof out of the catalog while applications still show it (a proof
    read before, a commitment to it): the workbench names it as the catalog did, not by its code."""
    import json

    from catalog.loading import catalog_from_document
    from exchange.operations import Actor, publish_recorded

    document = bundled_catalog().to_document()
    dropped = next(proof for proof in document["proofs"] if proof["code"] == "SELF_IDENTITY_PROOF")
    document["proofs"] = [proof for proof in document["proofs"] if proof is not dropped]
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, catalog_from_document(document), "目录管理员", None, Actor())
    page = browser.new_page()
    sign_in(page, live_server)
    labels = json.loads(page.locator("#caseworker-labels").text_content() or "{}")
    assert labels["proofs"]["SELF_IDENTITY_PROOF"]["name_zh"] == dropped["name_zh"]


@pytest.mark.parametrize("width", [1280, 390])
def test_the_keyboard_reaches_the_households_before_filing_and_filing_stays_put(
        browser: Browser, live_server: str, settings: Settings, width: int) -> None:
    """A keyboard user picks the household first: Tab from the last control reaches the household
    list before 提交申请并核验, each household is named once (选择 and the name), and relisting the
    households (the income edited) does not move the button under the pointer."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    sign_in(page, live_server)
    choose(page, "public_housing_eligible")
    expect(page.locator("#households-status")).to_have_text("")  # listed, not only answered
    page.focus("fieldset.cw-matter:not([hidden]) .cw-income-change")
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.name"))
        if order[-1] == "submit-application":
            break
    assert any(focused.startswith("household-") for focused in order[:order.index("submit-application")]), order
    expect(page.locator("#household-0")).to_have_accessible_name(re.compile(r"^选择 \S+$"))
    where = "b => [b.getBoundingClientRect().left + scrollX, b.getBoundingClientRect().top + scrollY]"  # on the page
    before = page.locator("#submit-application").evaluate(where)
    with page.expect_response(lambda response: "/caseworker/demo-households" in response.url):
        page.fill("fieldset.cw-matter:not([hidden]) .cw-income-change", "-300")
        page.keyboard.press("Enter")
    expect(page.locator("#households-status")).to_have_text("")
    assert page.locator("#submit-application").evaluate(where) == before
    page.close()
