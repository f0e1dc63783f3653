"""Every page as a phone (390×844), the narrowest screen pages must reflow to without scrolling
sideways (320 CSS px: WCAG 1.4.10, a 1280 px window zoomed to 400%) and a laptop (1366×900)
show it, and the public pages on a phone set to text twice the usual size, in headless Chromium: nothing
wider than the screen (the document's scrollWidth is at most the viewport's width) and every
control at least 44 px in both directions, the size a thumb can hit. Links inside running text
are exempt, as WCAG 2.5.8 exempts them. Screenshots go to $MIANZHENG_SCREENSHOTS when set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from api.settings import Settings
from demo.data import DemoResident, sample_residents

VIEWPORTS = {"phone": (390, 844), "narrow": (320, 640), "laptop": (1366, 900)}
MIN_TARGET_PX = 44
MIN_COLUMN_PX = 64
SCREENSHOTS = os.environ.get("MIANZHENG_SCREENSHOTS")

MEASURE = """() => {
  const controls = 'button, input:not([type=hidden]), select, textarea, summary, nav a, a.button, [role=button]';
  const small = [];
  for (const element of document.querySelectorAll(controls)) {
    const style = getComputedStyle(element);
    if (style.visibility === 'hidden' || style.display === 'none' || element.closest('[hidden]')) continue;
    let box = element.getBoundingClientRect();
    if (element.type === 'radio' || element.type === 'checkbox' || element.type === 'file') {
      const label = element.closest('label') || (element.id && document.querySelector(`label[for="${element.id}"]`));
      if (label) { const around = label.getBoundingClientRect(); if (around.height >= box.height) box = around; }
    }
    if (box.width === 0 && box.height === 0) continue;
    if (box.height < 44 || box.width < 44) {
      small.push(`${element.tagName.toLowerCase()}${element.id ? '#' + element.id : ''} ` +
                 `"${(element.innerText || element.value || element.name || '').trim().slice(0, 20)}" ` +
                 `${Math.round(box.width)}×${Math.round(box.height)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth, small};
}"""


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Layout does not depend on the database engine: SQLite only."""
    template: Path = request.getfixturevalue("sqlite_template")
    import shutil

    shutil.copytree(template / "var", tmp_path / "var")
    shutil.copyfile(template / "template.db", tmp_path / "mianzheng.db")
    yield f"sqlite:///{tmp_path / 'mianzheng.db'}"


@pytest.fixture
def resident(settings: Settings) -> DemoResident:
    return sample_residents(settings.sources_dir, 1)[0]


def check_layout(page: Page, name: str, viewport: str) -> list[str]:
    """What is wrong with the page as shown (empty when nothing is), once it has loaded: a page
    reached by submitting a form is in the DOM before its stylesheet applies."""
    page.wait_for_load_state("load")
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}-{viewport}.png"), full_page=True)
    measured = page.evaluate(MEASURE)
    problems = [f"{name} at {viewport}: {control} is smaller than {MIN_TARGET_PX} px" for control in measured["small"]]
    if measured["scrollWidth"] > measured["width"]:
        problems.append(f"{name} at {viewport}: {measured['scrollWidth']} px wide on a {measured['width']} px screen")
    return problems


PUBLIC_PAGES = {
    "home": "/", "catalog": "/catalog", "catalog-search": "/catalog?q=公租房", "verify": "/verify",
    "portal-signed-out": "/portal", "caseworker-signed-out": "/caseworker", "statistics": "/statistics",
    "dev-idp": "/dev-idp/login", "problem-type": "/problems/not-found", "not-found": "/no-such-page",
    "api-docs": "/api/v1/docs",
}


LARGE_TEXT_PX = 32
"""A phone set to text twice the usual size (Android's font size, iOS's Larger Text): 32 px."""


@pytest.mark.parametrize("viewport", [*VIEWPORTS, "phone-large-text"])
def test_public_pages_fit_and_can_be_tapped(browser: Browser, live_server: str, viewport: str) -> None:
    width, height = VIEWPORTS[viewport.removesuffix("-large-text")]
    page = browser.new_page(viewport={"width": width, "height": height})
    if viewport.endswith("-large-text"):
        page.context.new_cdp_session(page).send("Page.setFontSizes", {"fontSizes": {"standard": LARGE_TEXT_PX}})
    problems: list[str] = []
    for name, path in PUBLIC_PAGES.items():
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        problems += check_layout(page, name, viewport)
    page.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("viewport", [*VIEWPORTS, "phone-large-text"])
def test_citizen_pages_fit_and_can_be_tapped(browser: Browser, live_server: str, settings: Settings,
                                             resident: DemoResident, viewport: str) -> None:
    from tests.api.test_exchange_requests import _bearer, client_token, consent, envelope

    consent(live_server, resident)  # a department's system pulled her data under a case number with no break in it
    pulled = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=_bearer(client_token(settings)), json=envelope(
        resident, "layout-1", case_number="GZF" + "0123456789" * 4, caseworker_id="caseworker-" + "w" * 40))
    assert pulled.status_code == 200, pulled.text
    width, height = VIEWPORTS[viewport.removesuffix("-large-text")]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    if viewport.endswith("-large-text"):
        context.new_cdp_session(page).send("Page.setFontSizes", {"fontSizes": {"standard": LARGE_TEXT_PX}})
    page.goto(f"{live_server}/dev-idp/login?next=/portal")
    page.fill("input[name=name]", resident.name)
    page.fill("input[name=id_number]", resident.id_number)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/portal")
    problems = check_layout(page, "portal", viewport)
    page.check("#choose-NO_HOUSING", force=True)
    page.fill("input[name=purpose]", "申请公租房")
    page.click("form.portal-form button[type=submit]")
    page.wait_for_selector("#preview")
    problems += check_layout(page, "portal-preview", viewport)
    page.click("#confirm")
    page.wait_for_url(f"{live_server}/portal/certificates?issued=*")
    problems += check_layout(page, "portal-certificates", viewport)
    pdf = page.request.get(live_server + page.locator("a[href$='.pdf']").first.get_attribute("href")).body()
    page.goto(f"{live_server}/portal/access-log")
    problems += check_layout(page, "portal-access-log", viewport)
    page.goto(f"{live_server}/portal/consents")
    problems += check_layout(page, "portal-consents", viewport)
    page.goto(f"{live_server}/portal/consents/new?matter=PUBLIC_RENTAL_HOUSING&department=ZJ")
    problems += check_layout(page, "portal-consent-preview", viewport)
    page.goto(f"{live_server}/verify")
    page.set_input_files("#pdf", files=[{"name": "证明.pdf", "mimeType": "application/pdf", "buffer": pdf}])
    page.click("form.verify-form button[type=submit]")
    page.wait_for_selector("#verdict")
    problems += check_layout(page, "verify-verdict", viewport)
    page.goto(f"{live_server}/portal/licenses")
    problems += check_layout(page, "portal-licenses", viewport)
    marriage = page.locator("section.license").first
    marriage.locator("input[name=items]").first.check()
    marriage.locator("button[type=submit]").click()
    page.wait_for_selector("#presentation-qr svg")
    problems += check_layout(page, "portal-presentation", viewport)
    page.goto(f"{live_server}/verify/licenses")
    page.fill("#license", page.context.request.get(
        live_server + page.context.request.get(f"{live_server}/api/v1/me/licenses").json()[0]["links"]["credential"]).text())
    page.click("form.verify-form button[type=submit]")
    page.wait_for_selector("#verdict")
    problems += check_layout(page, "verify-license-verdict", viewport)
    context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_caseworker_page_fits_and_can_be_tapped(browser: Browser, live_server: str, settings: Settings,
                                                    viewport: str) -> None:
    from tests.api.test_caseworker_page import choose, sign_in, submit_and_watch

    width, height = VIEWPORTS[viewport]
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{live_server}/dev-idp/staff-login")
    problems = check_layout(page, "dev-idp-staff-login", viewport)
    sign_in(page, live_server)
    choose(page, "owner")
    problems += check_layout(page, "caseworker", viewport)
    submit_and_watch(page)
    problems += check_layout(page, "caseworker-decided", viewport)
    # the rules and proofs tables scroll sideways within themselves, so every column keeps room to be read:
    # 成立 on one line, a department's name a few characters wide, not one character a line
    narrowest = page.evaluate("""() => Math.min(...[...document.querySelectorAll(
        '#rules th, #rules td, #proofs th, #proofs td')].map(cell => cell.getBoundingClientRect().width))""")
    if narrowest < MIN_COLUMN_PX:
        problems.append(f"caseworker-decided at {viewport}: a column of the rules or proofs {narrowest:.0f} px wide")
    # a longer case number pushes 查看 (and the words a screen reader hears with it) further right:
    # still within the list's own scrolling, not the page's
    page.locator("#recent tbody td").first.evaluate("cell => { cell.textContent += 'GZF-2026-'.repeat(8); }")
    problems += check_layout(page, "caseworker-long-case-number", viewport)
    page.close()
    assert not problems, "\n".join(problems)
