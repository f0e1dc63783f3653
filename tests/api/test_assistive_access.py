"""The pages for people who do not use a mouse or do not see well, in headless Chromium: in
forced colours (Windows high contrast) every button still shows as a button; a keyboard skips
the repeated navigation with its first Tab; the 亮证 QR code has a name a screen reader reads."""

from __future__ import annotations

from playwright.sync_api import Browser, Page

from demo.data import DemoResident
from tests.api.test_page_layout import database_url, resident  # noqa: F401  (what a page shows is engine-free)
from tests.api.test_portal_pages import sign_in

BORDERS = """selector => [...document.querySelectorAll(selector)].map(element => {
  const style = getComputedStyle(element);
  return [element.innerText.trim(), style.borderTopStyle, parseFloat(style.borderTopWidth)];
})"""


def signed_in_page(browser: Browser, live_server: str, resident: DemoResident) -> Page:
    page = browser.new_page()
    sign_in(page, live_server, resident.name, resident.id_number)
    return page


def test_buttons_keep_their_outline_in_forced_colours(browser: Browser, live_server: str,
                                                      resident: DemoResident) -> None:
    """High contrast drops every background: a button drawn by its background alone reads as
    plain text there, and the one that does the task is hard to find."""
    page = signed_in_page(browser, live_server, resident)
    page.emulate_media(forced_colors="active")
    page.check("#choose-NO_HOUSING", force=True)
    page.fill("input[name=purpose]", "申请公租房")
    page.click("form.portal-form button[type=submit]")
    page.click("#confirm")
    page.wait_for_url(f"{live_server}/portal/certificates?issued=*")
    shown = page.evaluate(BORDERS, "td.downloads a.button")
    for path, selector in (("/verify", "form.verify-form button[type=submit]"),
                           ("/catalog", "form.search button"), ("/portal", "form.portal-form button[type=submit]")):
        page.goto(live_server + path)
        shown += page.evaluate(BORDERS, selector)
    page.close()
    assert {"下载 PDF", "核验", "搜索", "开具电子证明"} <= {text for text, _, _ in shown}, shown
    assert all(style != "none" and width >= 1 for _, style, width in shown), shown


def test_the_first_tab_skips_to_the_page_content(browser: Browser, live_server: str, resident: DemoResident) -> None:
    """On the portal thirteen links (the site's and the portal's navigation) come before the form."""
    page = signed_in_page(browser, live_server, resident)
    page.keyboard.press("Tab")
    first = page.evaluate("[document.activeElement.tagName, document.activeElement.innerText]")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    after = page.evaluate("document.activeElement.closest('main') !== null")
    page.close()
    assert first == ["A", "跳到主要内容"] and after


def test_the_presentation_qr_code_is_named(browser: Browser, live_server: str, resident: DemoResident) -> None:
    page = signed_in_page(browser, live_server, resident)
    page.goto(f"{live_server}/portal/licenses")
    marriage = page.locator("section.license").first
    marriage.locator("input[name=items]").first.check()
    marriage.locator("button[type=submit]").click()
    page.wait_for_selector("#presentation-qr svg")
    qr = page.get_by_role("img", name="亮证二维码", exact=False)
    name = qr.get_attribute("aria-label")
    expires = page.inner_text("#expires-at")
    page.close()
    assert name is not None and "请核验方扫描" in name and expires[-8:] in name, name


def test_each_licenses_controls_say_which_license_they_are_for(browser: Browser, live_server: str,
                                                             resident: DemoResident) -> None:
    """A screen reader's list of links and buttons shows each by its name alone: four alike
    下载盖章的 PDF 文件 cannot be told apart there."""
    page = signed_in_page(browser, live_server, resident)
    page.goto(f"{live_server}/portal/licenses")
    licenses = page.locator("section.license").count()
    downloads = [page.get_by_role("link", name="下载盖章的 PDF 文件").nth(i).evaluate("e => e.textContent")
                 for i in range(page.get_by_role("link", name="下载盖章的 PDF 文件").count())]
    shows = [button.evaluate("e => e.textContent") for button in page.get_by_role("button", name="亮证").all()]
    sections = [section.get_attribute("aria-labelledby") for section in page.locator("section.license").all()]
    page.close()
    assert licenses >= 2 and len(downloads) >= 2 and len(shows) >= 2, (licenses, downloads, shows)
    assert len(set(downloads)) == len(downloads) and len(set(shows)) == len(shows), (downloads, shows)
    assert None not in sections
