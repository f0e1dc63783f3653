"""The statistics of paper saved as the public reads them: `GET /api/v1/statistics` over real HTTP,
without credentials and without personal data, with wrong filters named in a 400 problem; and
the dashboard 统计：少交了多少纸质证明 in headless Chromium, whose charts have one bar per month
and one stacked bar per matter, and whose numbers are the API's."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from api.settings import Settings
from tests.exchange.applications.test_statistics import Filing, assert_rows, expected, set_times

SCREENSHOT = "/tmp/statistics.png"


@pytest.fixture
def filed(settings: Settings, live_server: str) -> tuple[Filing, list[dict[str, Any]]]:
    """公租房 in August, 退休 in September, 居住证 in November 2026 (nothing in October), and a
    低保 application waiting for the applicant's commitment; their documents."""
    filing = Filing(settings, live_server)
    [eligible] = filing.households("public_housing_eligible")
    [owner] = filing.households("owner")
    [poor] = filing.households("minimum_living")
    for application_id, filed_at in (
            (filing.public_housing(eligible, "gzf-page"), datetime(2026, 8, 20, 1, 0, tzinfo=timezone.utc)),
            (filing.retirement(owner, "tx-page"), datetime(2026, 9, 5, 8, 0, tzinfo=timezone.utc)),
            (filing.residence_permit(owner, "jzz-page"), datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc))):
        set_times(settings, application_id, filed_at, timedelta(hours=2, minutes=5))
    waiting = filing.minimum_living(poor, "db-page")
    set_times(settings, waiting, datetime(2026, 11, 3, 3, 0, tzinfo=timezone.utc), None)
    return filing, filing.documents()


def statistics(base: str, **params: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/v1/statistics", params=params, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def test_the_api_counts_the_applications_without_personal_data(
        live_server: str, filed: tuple[Filing, list[dict[str, Any]]]) -> None:
    filing, documents = filed
    found = statistics(live_server)
    assert_rows({(row["matter"], row["department"], row["month"]): row for row in found["rows"]}, expected(documents))
    names = {row["matter"]: row["matter_name_zh"] for row in found["rows"]}
    assert names == {document["matter"]: document["matter_name_zh"] for document in documents}
    assert [month["month"] for month in found["months"]] == ["2026-08", "2026-09", "2026-10", "2026-11"]
    assert found["totals"]["paper_saved"] == sum(document["paper_saved"] for document in documents)
    assert found["totals"]["paper_saved"] == sum(month["paper_saved"] for month in found["months"])
    text = httpx.get(f"{live_server}/api/v1/statistics", timeout=30).text
    for household in (filing.households(situation)[0] for situation in ("public_housing_eligible", "owner")):
        assert all(member.name not in text and member.id_number not in text for member in household.members)

    only = statistics(live_server, matter="RETIREMENT", **{"from": "2026-09", "to": "2026-09"})
    assert_rows({(row["matter"], row["department"], row["month"]): row for row in only["rows"]},
                expected(document for document in documents if document["matter"] == "RETIREMENT"))


@pytest.mark.parametrize("params, parameter", [
    ({"from": "2026-13"}, "from"),
    ({"to": "November"}, "to"),
    ({"from": "2026-11", "to": "2026-10"}, "to"),
    ({"matter": "NO_SUCH_MATTER"}, "matter"),
    ({"department": "NOWHERE"}, "department"),
])
def test_a_wrong_filter_is_a_problem_naming_the_parameter(live_server: str, params: dict[str, str],
                                                          parameter: str) -> None:
    response = httpx.get(f"{live_server}/api/v1/statistics", params=params, timeout=30)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "/problems/invalid-request"
    assert [error["parameter"] for error in problem["errors"]] == [parameter]


def figures_of(page: Page, selector: str) -> dict[str, str]:
    """The data-figure cells inside `selector`: figure name → text (median: its data-seconds)."""
    return page.eval_on_selector(selector, """element => Object.fromEntries(
        [...element.querySelectorAll('[data-figure]')].map(cell => [cell.dataset.figure,
            cell.dataset.figure === 'median_handling_seconds' ? cell.dataset.seconds : cell.textContent.trim()]))""")


def as_text(row: dict[str, Any], names: list[str]) -> dict[str, str]:
    return {name: "" if row[name] is None else str(row[name]) for name in names}


def test_the_dashboard_draws_the_api_numbers(browser: Browser, live_server: str,
                                             filed: tuple[Filing, list[dict[str, Any]]]) -> None:
    found = statistics(live_server)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server}/statistics")
    assert page.locator("h1").inner_text() == "统计：少交了多少纸质证明"

    months = page.locator("#chart-months rect.bar")
    assert months.count() == len(found["months"])
    assert [(bar.get_attribute("data-month"), int(bar.get_attribute("data-value") or "")) for bar in months.all()] \
        == [(month["month"], month["paper_saved"]) for month in found["months"]]
    for chart, title in (("chart-months", "每月少交的纸质证明（份）"), ("chart-matters", "各事项证明的办理方式（份）")):
        assert page.get_by_role("img", name=re.compile(f"^{title}")).get_attribute("id") == chart
    matters = {row["matter"] for row in found["rows"]}
    assert page.locator("#chart-matters g.matter-bar").count() == len(matters)
    for matter in matters:
        segments = page.locator(f"#chart-matters g.matter-bar[data-matter={matter}] rect.segment")
        drawn = sum(int(segment.get_attribute("data-value") or "") for segment in segments.all())
        assert drawn == sum(row["proofs_required"] for row in found["rows"] if row["matter"] == matter)

    totals = figures_of(page, "#totals")
    assert totals == as_text(found["totals"], list(totals))
    assert {"applications_filed", "paper_saved", "median_handling_seconds"} <= set(totals)
    assert page.locator("#totals [data-figure=median_handling_seconds]").inner_text() == "2 小时 5 分"
    for month in found["months"]:
        cells = figures_of(page, f"#table-months tr[data-month='{month['month']}']")
        assert cells == as_text(month, list(cells))
    rows = page.locator("#table-rows tbody tr")
    assert rows.count() == len(found["rows"])
    for row in found["rows"]:
        selector = (f"#table-rows tr[data-matter={row['matter']}][data-department={row['department']}]"
                    f"[data-month='{row['month']}']")
        cells = figures_of(page, selector)
        assert len(cells) == 12 and cells == as_text(row, list(cells))
        assert row["matter_name_zh"] in page.locator(selector).inner_text()
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.select_option("select[name=matter]", "RETIREMENT")
    page.click("form.search button[type=submit]")
    page.wait_for_url(lambda url: "matter=RETIREMENT" in url)
    only = statistics(live_server, matter="RETIREMENT")
    assert page.locator("#chart-matters g.matter-bar").count() == 1
    assert page.locator("#chart-months rect.bar").count() == len(only["months"]) == 1
    assert figures_of(page, "#totals") == as_text(only["totals"], list(figures_of(page, "#totals")))


def test_the_dashboard_says_which_filter_is_wrong(browser: Browser, live_server: str) -> None:
    page = browser.new_page()
    response = page.goto(f"{live_server}/statistics?from=2026-13&matter=RETIREMENT")
    assert response is not None and response.status == 400
    assert "起始月份" in page.locator("#filter-error").inner_text()
    assert page.locator("select[name=matter]").input_value() == "RETIREMENT"
    empty = page.goto(f"{live_server}/statistics")
    assert empty is not None and empty.status == 200
    assert page.locator("main .empty").inner_text() == "所选范围内还没有办事申请。"
    assert page.locator("svg").count() == 0


@pytest.mark.parametrize("width", [390, 1366])
def test_the_dashboard_shows_the_license_figures_of_the_api(browser: Browser, live_server: str, settings: Settings,
                                                            width: int) -> None:
    from exchange.clients import ClientScope
    from demo.data import sample_residents
    from tests.api.test_licenses_api import client, signed_in, use_request

    resident = sample_residents(settings.sources_dir, 1)[0]  # holds a 结婚证 in the demo library
    httpx.post(f"{live_server}/api/v1/me/consents", headers=signed_in(live_server, resident), json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30})
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    used = httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=zj, json=use_request(resident), timeout=30)
    assert used.status_code == 200, used.text
    found = httpx.get(f"{live_server}/api/v1/statistics/licenses", timeout=30).json()

    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{live_server}/statistics")
    rows = page.locator("#table-licenses tbody tr")
    assert rows.count() == len(found) >= 10
    for row in found:
        selector = f"#table-licenses tr[data-license-type={row['license_type']}]"
        assert figures_of(page, selector) == {figure: str(row[figure]) for figure in ("held", "used", "paper_avoided")}
        assert row["name_zh"] in page.locator(selector).inner_text()
    marriage = page.locator("#table-licenses tr[data-license-type=MARRIAGE_CERTIFICATE]")
    assert int(marriage.locator("[data-figure=paper_avoided]").inner_text()) >= 1
    assert "申请公租房一件事 1 次" in marriage.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
