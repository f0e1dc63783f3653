"""The public catalog page (清单公开) as a citizen uses it in a browser."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser


def test_browse_and_search_the_catalog(browser: Browser, live_server: str, tmp_path: Path) -> None:
    page = browser.new_page()
    page.goto(f"{live_server}/catalog")
    assert page.locator("h1").inner_text() == "证明事项清单公开"
    housing = page.locator("section#PUBLIC_RENTAL_HOUSING")
    row = housing.locator("tr", has_text="无房证明")
    assert "不动产登记中心" in row.inner_text()

    page.fill("input[name=q]", "教师资格")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    matters = page.locator("section.matter")
    assert matters.count() == 1
    teacher = matters.first
    assert "教师资格认定" in teacher.locator("h3").inner_text()
    assert "告知承诺" in teacher.locator("tr", has_text="无犯罪记录证明").inner_text()
    page.screenshot(path=str(tmp_path / "catalog.png"), full_page=True)
    page.close()


def test_filter_by_mode_and_a_search_with_no_result(browser: Browser, live_server: str) -> None:
    page = browser.new_page()
    page.goto(f"{live_server}/catalog?mode=abolished")
    proof_rows = page.locator("tr[id^=proof-]")
    assert proof_rows.count() >= 1
    assert all("直接取消" in proof_rows.nth(i).inner_text() for i in range(proof_rows.count()))
    page.goto(f"{live_server}/catalog?q=不存在的证明名称")
    assert page.locator(".empty").count() == 2
    page.close()
