"""The public catalog page (清单公开) as a citizen uses it in a browser."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Locator

from catalog.model import Catalog


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


def test_a_matter_shows_its_options_conditions_rules_and_recheck(
    browser: Browser, live_server: str, bundled: Catalog, tmp_path: Path
) -> None:
    matter = bundled.matters["PUBLIC_RENTAL_HOUSING"]
    page = browser.new_page()
    page.goto(f"{live_server}/catalog")
    housing = page.locator("section#PUBLIC_RENTAL_HOUSING")
    assert "办理选项：申请优先配租（是 / 否，默认否）" in housing.locator(".options").inner_text()

    def row(proof: str) -> Locator:
        return housing.locator("tr", has_text=bundled.proofs[proof].name_zh)

    condition = matter.entry("SINGLE_DECLARATION")
    assert condition.condition_zh in row("SINGLE_DECLARATION").inner_text()
    assert row("SINGLE_DECLARATION").locator("code.expr").inner_text() == condition.when
    assert "可告知承诺替代" in row("MARITAL_STATUS").inner_text()
    assert "可告知承诺替代" not in row("NO_HOUSING").inner_text()

    rules = housing.locator("table.rules tbody tr")
    assert rules.count() == len(matter.rules)
    for rule in matter.rules:
        row = housing.locator(f"tr#PUBLIC_RENTAL_HOUSING-rule-{rule.code}")
        assert rule.name_zh in row.inner_text() and rule.outcome_if_false.label_zh in row.inner_text()
    priorities = housing.locator("ul.priorities").inner_text()
    assert all(priority.name_zh in priorities for priority in matter.priorities)
    recheck = housing.locator(".recheck").inner_text()
    assert matter.recheck.name_zh in recheck
    rule_names = {rule.code: rule.name_zh for rule in matter.rules}
    assert all(rule_names[code] in recheck for code in matter.recheck.rules)
    housing.screenshot(path=str(tmp_path / "catalog-matter.png"))
    page.close()


def test_a_bundled_matter_names_each_departments_part(browser: Browser, live_server: str, bundled: Catalog) -> None:
    page = browser.new_page()
    page.goto(f"{live_server}/catalog?q=新生儿出生")
    parts = page.locator("section#NEWBORN_BIRTH ul.services li")
    services = bundled.matters["NEWBORN_BIRTH"].services
    assert parts.count() == len(services)
    for part, service in zip(parts.all(), services, strict=True):
        assert part.inner_text().startswith(f"{service.name_zh} — {bundled.departments[service.department].name_zh}")
    assert parts.first.inner_text().startswith("出生登记（户口登记） — 公安局")
    page.close()


def test_proofs_show_how_commitments_are_checked_and_the_city_standards(
    browser: Browser, live_server: str, bundled: Catalog
) -> None:
    page = browser.new_page()
    page.goto(f"{live_server}/catalog")
    income = page.locator("tr#proof-INCOME")
    assert page.locator("th", has_text="事后核查方式").count() == 1
    assert "调取收入证明（家庭经济状况），按规则核对" in income.inner_text()
    assert income.locator("code.expr").inner_text() == bundled.proofs["INCOME"].verification.expression
    assert "部门现场核查" in page.locator("tr#proof-HOUSING_HARDSHIP_REPORT").inner_text()

    assert page.locator("h2#city").inner_text() == f"城市标准（{len(bundled.city)}）"
    line = bundled.city["public_housing_income_line_monthly"]
    cells = page.locator(f"tr#city-{line.name} td").all_inner_texts()
    assert cells == [line.name_zh, f"{line.value:g}", line.unit_zh, f"city.{line.name}"]
    assert cells[:3] == ["公租房申请家庭人均月收入线", "3000", "元/人·月"]
    page.close()
