"""The development identity provider's sign-in page in a real browser: the warning, a refused
ID number, signing in, and then seeing who used my data with the cookie it set."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser

from api.app import create_app
from api.database import standalone_session
from api.secrets import SUBJECT_HASH_KEY, read_secret
from api.settings import Settings
from exchange.access_log import AccessEntry, Outcome, append_access
from exchange.subjects import subject_key
from tests.support.live_server import serving

ID_NUMBER = "11010519491231002X"


@pytest.fixture
def dev_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, dev_idp=True)


@pytest.fixture
def base(dev_settings: Settings) -> Iterator[str]:
    app: Flask = create_app(dev_settings)
    with serving(app) as url:
        yield url
    app.extensions["mianzheng"].engine.dispose()


def test_sign_in_and_see_who_used_my_data(browser: Browser, base: str, dev_settings: Settings) -> None:
    with standalone_session(dev_settings.database_url) as session:
        append_access(session, AccessEntry(
            outcome=Outcome.ALLOWED, request_id="req-browser", consumer_department="ZJ", caseworker_id="zj-001",
            case_number="GZF-2026-0001", matter="PUBLIC_RENTAL_HOUSING", proof="NO_HOUSING",
            subject_key=subject_key(read_secret(dev_settings, SUBJECT_HASH_KEY), ID_NUMBER),
            legal_basis="《公共租赁住房管理办法》", purpose="公租房资格审核"))

    page = browser.new_page()
    page.goto(f"{base}/dev-idp/login")
    assert "开发测试用身份认证" in page.locator(".dev-warning").inner_text()
    assert "严禁在生产环境启用" in page.locator(".dev-warning").inner_text()

    page.fill("input[name=name]", "张三")
    page.fill("input[name=id_number]", "110105194912310021")
    page.click("button[type=submit]")
    assert "身份证号无效" in page.locator(".error").inner_text()

    page.fill("input[name=id_number]", ID_NUMBER)
    page.click("button[type=submit]")
    assert page.locator("h2").inner_text() == "已登录：张三（110105********002X）"
    assertion = page.locator("#assertion").input_value()
    assert assertion.count(".") == 2

    page.click("#access-log-link")
    shown = json.loads(page.locator("body").inner_text())
    assert shown["total"] == 1
    assert shown["entries"][0]["case_number"] == "GZF-2026-0001"
    assert shown["entries"][0]["consumer_department_name_zh"] == "住房和城乡建设局"
    page.close()
