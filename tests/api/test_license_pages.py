"""我的证照 and 电子证照核验 in headless Chromium, as a resident and a verifier use them: the
resident signs in, sees the demo licenses she holds, shows only her marital status as a QR code
(亮证), and the verifier's page accepts the presentation once and refuses it the second time."""

from __future__ import annotations

import contextlib
from io import BytesIO

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Route
from playwright.sync_api import Error as PlaywrightError

from api.settings import Settings
from demo.data import DemoResident, sample_residents
from tests.api.test_portal_pages import sign_in


@pytest.fixture
def resident(settings: Settings) -> DemoResident:
    return sample_residents(settings.sources_dir, 1)[0]


def test_show_a_license_and_verify_it_once(browser: Browser, live_server: str, resident: DemoResident,
                                           settings: Settings) -> None:
    page = browser.new_page()
    sign_in(page, live_server, resident.name, resident.id_number)
    page.click("nav.portal-nav >> text=我的证照")
    page.wait_for_url(f"{live_server}/portal/licenses")
    sections = page.locator("section.license")
    titles = [sections.nth(i).locator("h2").inner_text() for i in range(sections.count())]
    assert any(title.startswith("居民户口簿") for title in titles) and any(t.startswith("结婚证") for t in titles)
    assert resident.id_number not in page.content()

    marriage = page.locator("section.license", has=page.locator("h2", has_text="结婚证"))
    # the verifier always sees the holder, named and numbered by the last four characters: the
    # wallet says so before anything is shown, not "only the items ticked"
    assert f"总能看到证照名称、发证机关、有效期和持证人{resident.name}" in marriage.locator(".always-shown").inner_text()
    marriage.locator("input[value=marital_status]").check()
    marriage.locator("button[type=submit]").click()
    page.wait_for_selector("#presentation-qr svg")
    assert page.locator("#shown-items tbody").inner_text().split() == ["婚姻状况", "已婚"]
    caption = page.locator("#shown-items caption").inner_text()
    assert resident.name in caption and resident.id_number[-4:] in caption and "只出示以下项目" in caption
    presentation = page.locator("#presentation").input_value()
    assert resident.id_number not in presentation
    link = page.locator("#presentation-link").get_attribute("href")
    assert link is not None and link.startswith(f"{settings.public_url}/verify/licenses?p=")  # never the Host asked

    # the verifier scans the QR code: its link opens the page that verifies it, once
    [scanned] = zxingcpp.read_barcodes(Image.open(BytesIO(page.locator("#presentation-qr svg").screenshot())))
    assert scanned.text == link
    scanner = browser.new_page()
    served = live_server + link.removeprefix(settings.public_url)  # the test server's port, not the public one
    scanner.goto(served)
    scanner.reload()  # opening the link again (a reload, a chat app's link preview) uses nothing up
    assert "亮证只能核验一次" in scanner.locator("#shown-license").inner_text()
    scanner.click("#verify-shown")
    assert scanner.locator("#verdict-result").inner_text().startswith("有效")
    assert scanner.locator("#verdict-time").inner_text().startswith("核验时间：20")
    assert "婚姻状况" in scanner.locator("#content").inner_text()
    assert resident.name in scanner.locator("#content").inner_text()  # as the holder was told
    # reloading the verdict (a phone's pull to refresh) asks again: the page says the presentation
    # was checked already, at the top, never that the license is 无效
    scanner.reload()
    assert scanner.locator("#verdict-result").inner_text().startswith("已核验过")
    assert "请持证人重新亮证" in scanner.locator("#verdict-explanation").inner_text()
    scanner.goto(served)
    scanner.click("#verify-shown")
    assert scanner.locator("#verdict-result").inner_text().startswith("已核验过")

    # another verifier is handed the text of a presentation made again
    page.go_back()
    page.locator("section.license", has=page.locator("h2", has_text="结婚证")).locator("button[type=submit]").click()
    page.wait_for_selector("#presentation-qr svg")
    presentation = page.locator("#presentation").input_value()
    verifier = browser.new_page()
    verifier.goto(f"{live_server}/verify/licenses")
    verifier.fill("#license", presentation)
    verifier.click("form.verify-form button[type=submit]")
    assert verifier.locator("#verdict-result").inner_text().startswith("有效")
    assert "婚姻状况" in verifier.locator("#content").inner_text()
    assert "配偶" not in verifier.locator("#content").inner_text()

    verifier.goto(f"{live_server}/verify/licenses")
    verifier.fill("#license", presentation)
    verifier.click("form.verify-form button[type=submit]")
    assert verifier.locator("#verdict-result").inner_text().startswith("已核验过")
    assert "已被核验过" in verifier.locator("#checks").inner_text()


def test_on_a_small_phone_the_license_pages_fit_and_the_qr_code_is_large(
        browser: Browser, live_server: str, resident: DemoResident) -> None:
    """On a 360-px phone, 我的证照 and the 亮证 page do not scroll sideways, their links are tap
    targets (44 px), and the QR code fills most of the width (a 90-px code had to be held
    against the verifier's camera) and still reads back as the link."""
    phone = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                device_scale_factor=2)
    page = phone.new_page()
    sign_in(page, live_server, resident.name, resident.id_number)
    page.goto(f"{live_server}/portal/licenses")
    marriage = page.locator("section.license", has=page.locator("h2", has_text="结婚证"))

    def fits() -> bool:
        return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    assert fits() and marriage.locator("a.download").bounding_box()["height"] >= 44
    assert marriage.locator("button[type=submit]").bounding_box()["height"] >= 44
    marriage.locator("input[value=marital_status]").check()
    marriage.locator("button[type=submit]").click()
    page.wait_for_selector("#presentation-qr svg")
    assert fits()
    code = page.locator("#presentation-qr svg")
    assert code.bounding_box()["width"] >= 240, code.bounding_box()
    [scanned] = zxingcpp.read_barcodes(Image.open(BytesIO(code.screenshot())))
    assert scanned.text == page.locator("#presentation-link").get_attribute("href")
    assert page.locator("a", has_text="返回我的证照").bounding_box()["height"] >= 44
    phone.close()


def test_a_verifier_that_gave_its_nonce_accepts_only_the_presentation_made_with_it(
        browser: Browser, live_server: str, resident: DemoResident) -> None:
    """The bank clerk tells the holder a nonce; she types it in when she shows her 结婚证, and the
    clerk's page, given the same nonce, accepts that presentation. One she made without it (or
    for someone else) is refused there as not made for this verifier, and is not used up."""
    page = browser.new_page()
    sign_in(page, live_server, resident.name, resident.id_number)
    page.goto(f"{live_server}/portal/licenses")
    marriage = page.locator("section.license", has=page.locator("h2", has_text="结婚证"))

    def shown(nonce: str) -> str:
        page.goto(f"{live_server}/portal/licenses")
        marriage.locator("input[value=marital_status]").check()
        marriage.locator("input[name=nonce]").fill(nonce)
        marriage.locator("button[type=submit]").click()
        page.wait_for_selector("#presentation-qr svg")
        return page.locator("#presentation").input_value()

    for_another = shown("")
    for_the_bank = shown("bank-0042-x7")
    clerk = browser.new_page()
    for presentation, expected in ((for_another, "无效"), (for_the_bank, "有效")):
        clerk.goto(f"{live_server}/verify/licenses")
        clerk.fill("#license", presentation)
        clerk.fill("#nonce", "bank-0042-x7")
        clerk.click("form.verify-form button[type=submit]")
        assert clerk.locator("#verdict-result").inner_text().startswith(expected)
        if expected == "无效":
            assert "不是向本核验方出示的" in clerk.locator("#checks").inner_text()
    clerk.goto(f"{live_server}/verify/licenses")
    clerk.fill("#license", for_another)
    clerk.click("form.verify-form button[type=submit]")
    assert clerk.locator("#verdict-result").inner_text().startswith("有效")  # the refusal did not use it up

    clerk.goto(f"{live_server}/verify/licenses")
    clerk.fill("#license", for_the_bank)
    clerk.fill("#nonce", "short")
    clerk.click("form.verify-form button[type=submit]")
    assert "随机数应为" in clerk.locator("#verify-error").inner_text()


def test_download_a_license_pdf_and_verify_it_on_the_page(browser: Browser, live_server: str,
                                                          resident: DemoResident, tmp_path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    sign_in(page, live_server, resident.name, resident.id_number)
    page.goto(f"{live_server}/portal/licenses")
    marriage = page.locator("section.license", has=page.locator("h2", has_text="结婚证"))
    with page.expect_download() as download:
        marriage.locator("a.download").click()
    path = tmp_path / "license.pdf"
    download.value.save_as(path)
    assert path.read_bytes().startswith(b"%PDF-")

    verifier = browser.new_page()
    verifier.goto(f"{live_server}/verify/licenses")
    verifier.set_input_files("#file", str(path))
    verifier.click("form.verify-form button[type=submit]")
    assert verifier.locator("#verdict-result").inner_text().startswith("有效")
    assert "PDF 文件签章" in verifier.locator("#checks").inner_text()
    assert "结婚证" in verifier.locator("#content").inner_text()

    tampered = bytearray(path.read_bytes())
    position = tampered.index(b"/Subject")
    tampered[position + 7] = ord("x")
    path.write_bytes(bytes(tampered))
    verifier.goto(f"{live_server}/verify/licenses")
    verifier.set_input_files("#file", str(path))
    verifier.click("form.verify-form button[type=submit]")
    assert verifier.locator("#verdict-result").inner_text().startswith("无效")

    path.write_bytes(path.read_bytes()[:20_000])  # cut short in a download: it stays a license's page
    verifier.goto(f"{live_server}/verify/licenses")
    verifier.set_input_files("#file", str(path))
    verifier.click("form.verify-form button[type=submit]")
    assert verifier.locator("#verdict-result").inner_text().startswith("无法读取")
    assert verifier.locator("h1").inner_text() == "电子证照核验"
    assert "核验本市出具的电子证明" not in verifier.locator("main").inner_text()  # the certificates' page's intro


def test_a_presentation_refused_keeps_the_wallet_in_view(live_server: str, resident: DemoResident) -> None:
    """亮证 with nothing ticked is refused with the reason, above the holder's licenses as they
    stand: not an empty 我的证照 that looks as if the citizen held none."""
    import re

    import httpx

    assertion = httpx.post(f"{live_server}/dev-idp/token",
                           json={"name": resident.name, "id_number": resident.id_number}).json()["assertion"]
    client = httpx.Client(base_url=live_server, cookies={"mz_identity": assertion}, timeout=30)
    wallet = client.get("/portal/licenses").text
    held = re.findall(r'data-identifier="([^"]+)"', wallet)
    token = re.search(r'name="csrf_token" value="([^"]+)"', wallet)
    assert held and token is not None
    refused = client.post(f"/portal/licenses/{held[0]}/presentation", data={"csrf_token": token.group(1)})
    assert refused.status_code == 400 and "请至少选择一项要出示的内容。" in refused.text
    assert re.findall(r'data-identifier="([^"]+)"', refused.text) == held


def test_a_presentation_refused_is_explained_at_the_license_with_the_choice_kept(
        browser: Browser, live_server: str, resident: DemoResident) -> None:
    """On a phone, 亮证 of the last license with a malformed nonce: the reason stands in that
    license's section, which is in view as the page opens, and the items ticked stay ticked."""
    phone = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    sign_in(page, live_server, resident.name, resident.id_number)
    page.goto(f"{live_server}/portal/licenses")
    last = page.locator("section.license").last
    identifier = last.get_attribute("data-identifier")
    first_item = last.locator("input[name=items]").first
    first_item.check()
    last.locator("input[name=nonce]").fill("不是随机数")
    last.locator("button[type=submit]").click()
    section = page.locator(f"section.license[data-identifier='{identifier}']")
    reason = section.locator(".license-refusal")
    assert "随机数" in reason.inner_text()
    box = reason.bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 740, box
    assert section.locator("input[name=items]").first.is_checked()
    assert page.locator("section.license input[name=items]:checked").count() == 1
    phone.close()


def test_the_catalog_search_takes_no_more_than_it_reads(live_server: str) -> None:
    import httpx

    page = httpx.get(f"{live_server}/catalog").text
    assert 'name="q"' in page and 'maxlength="100"' in page


def test_a_revoked_license_offers_no_sealed_page(settings: Settings, live_server: str, resident: DemoResident) -> None:
    """Once its issuer revokes a license, 我的证照 says so and offers no download: a page sealed
    today would look in force to whoever reads it on paper; asking for it anyway is refused."""
    import re

    import httpx

    from api.database import standalone_session
    from catalog.versions import read_live_catalog
    from exchange.clients import ClientScope, register_client

    assertion = httpx.post(f"{live_server}/dev-idp/token",
                           json={"name": resident.name, "id_number": resident.id_number}).json()["assertion"]
    [first, *_] = httpx.get(f"{live_server}/api/v1/me/licenses",
                            headers={"Authorization": f"Bearer {assertion}"}).json()
    with standalone_session(settings.database_url) as session:
        _, token = register_client(session, read_live_catalog(session), first["issuer"], "证照系统",
                                   [ClientScope.LICENSES_WRITE])
    revoked = httpx.post(f"{live_server}/api/v1/licenses/{first['identifier']}/revocation", timeout=30,
                         headers={"Authorization": f"Bearer {token}"}, json={"reason": "obtained_by_fraud"})
    assert revoked.status_code == 200, revoked.text
    client = httpx.Client(base_url=live_server, cookies={"mz_identity": assertion}, timeout=30)
    wallet = client.get("/portal/licenses").text
    section = wallet[wallet.index(f'data-identifier="{first["identifier"]}"'):]
    section = section[:section.index("</section>")]
    assert "已撤销" in section and "/pdf" not in section and "不能下载" in section
    refused = client.get(f"/portal/licenses/{first['identifier']}/pdf")
    assert refused.status_code == 409 and "已被撤销" in refused.text
    assert not refused.content.startswith(b"%PDF") and re.search(r"<h1>", refused.text)


def test_a_second_tap_on_verify_does_not_use_up_the_presentation(browser: Browser, live_server: str,
                                                                  resident: DemoResident, settings: Settings) -> None:
    """The verifier taps 核验 twice over a slow network: the page sends the one-time check once,
    so the verdict shown is the presentation's (有效), never 已核验过 for the second tap."""
    page = browser.new_page()
    sign_in(page, live_server, resident.name, resident.id_number)
    page.goto(f"{live_server}/portal/licenses")
    marriage = page.locator("section.license", has=page.locator("h2", has_text="结婚证"))
    marriage.locator("input[value=marital_status]").check()
    marriage.locator("button[type=submit]").click()
    page.wait_for_selector("#presentation-qr svg")
    link = page.locator("#presentation-link").get_attribute("href") or ""
    scanner = browser.new_page()
    posted: list[str] = []
    scanner.on("request", lambda request: posted.append(request.url) if request.method == "POST" else None)
    scanner.goto(live_server + link.removeprefix(settings.public_url))
    held: list[Route] = []  # a slow network: the check is on its way while the verifier taps again
    scanner.route("**/verify/licenses", lambda route: held.append(route))
    button = scanner.locator("#verify-shown").bounding_box()
    assert button is not None
    for _ in range(2):  # two taps, as a finger does: no waiting for the page in between
        scanner.mouse.click(button["x"] + button["width"] / 2, button["y"] + button["height"] / 2)
        scanner.wait_for_timeout(300)
    for route in held:
        with contextlib.suppress(PlaywrightError):  # one the browser gave up for the second tap
            route.continue_()
    assert scanner.locator("#verdict-result").inner_text().startswith("有效")
    assert len(posted) == 1, posted


def test_a_superseded_or_revoked_license_is_named_on_the_verdict_without_its_items(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """A bank told 已换发 or 已撤销 learns which license that is (name, number, version, issuer,
    holder), so it can ask the holder for the current one; what the old version said is not shown."""
    import httpx

    from exchange.clients import ClientScope
    from tests.api.test_licenses_api import client, marriage, signed_in

    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    first = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident), timeout=30).json()
    credential = httpx.get(live_server + first["links"]["credential"], headers=signed_in(live_server, resident)).text

    def page_of(text: str) -> str:
        shown = httpx.post(f"{live_server}/verify/licenses", data={"license": text}, timeout=30)
        assert shown.status_code == 200, shown.text
        return shown.text

    valid = page_of(credential)
    assert 'id="content"' in valid and "已婚" in valid
    amended = httpx.post(f"{live_server}/api/v1/licenses/{first['identifier']}/amendments", headers=mz,
                         json={"changes": {"spouse_name": "李明明"}}, timeout=30)
    assert amended.status_code == 201, amended.text
    superseded = page_of(credential)
    assert "已换发" in superseded and 'id="content"' not in superseded
    named = superseded[superseded.index('id="identified"'):]
    named = named[:named.index("</table>")]
    for part in ("结婚证", first["identifier"], "第 1 版", "金华市民政局", resident.name):
        assert part in named, (part, named)
    assert "已婚" not in superseded and "李明" not in superseded and resident.id_number not in superseded

    httpx.post(f"{live_server}/api/v1/licenses/{first['identifier']}/revocation", headers=mz,
               json={"reason": "issued_in_error"}, timeout=30).raise_for_status()
    me = signed_in(live_server, resident)
    revoked = page_of(httpx.get(live_server + amended.json()["links"]["credential"], headers=me).text)
    assert "已撤销" in revoked and "第 2 版" in revoked[revoked.index('id="identified"'):]

    forged = credential.split("~")
    forged[0] = forged[0][:-4] + ("AAAA" if not forged[0].endswith("AAAA") else "BBBB")
    tampered = page_of("~".join(forged))
    assert "无效" in tampered and 'id="identified"' not in tampered  # what failed its signature names nothing
