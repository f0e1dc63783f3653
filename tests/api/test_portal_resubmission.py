"""A form submitted twice does the thing once. A citizen double-clicks 确认开具 or 同意授权, or
goes Back and submits again: the portal issues one certificate and records one consent, and
every submission of the same form lands on it."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from api.settings import Settings
from demo.data import DemoResident, sample_residents


@pytest.fixture
def resident(settings: Settings) -> DemoResident:
    return sample_residents(settings.sources_dir, 1)[0]


def _signed_in(base: str, person: DemoResident) -> tuple[httpx.Client, str]:
    """A browser-like client signed in as `person`, and the form token of its pages."""
    assertion = httpx.post(f"{base}/dev-idp/token", json={"name": person.name, "id_number": person.id_number})
    client = httpx.Client(base_url=base, cookies={"mz_identity": assertion.json()["assertion"]}, timeout=60)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/portal").text)
    assert token is not None
    return client, token.group(1)


def _hidden_fields(page: str, form_action: str) -> list[tuple[str, str]]:
    """The hidden fields of the page's form that posts to `form_action`."""
    form = re.search(rf'<form[^>]*action="{re.escape(form_action)}"[^>]*>(.*?)</form>', page, re.S)
    assert form is not None, page
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1))


def _form(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The fields as httpx posts a form with repeated names."""
    form: dict[str, list[str]] = {}
    for name, value in fields:
        form.setdefault(name, []).append(value)
    return form


def _submitted_twice_at_once_and_again(client: httpx.Client, path: str, fields: list[tuple[str, str]]) -> list[str]:
    """Where each of three submissions of the same form lands: two at once, then one more."""
    form = _form(fields)

    def submit(_: int) -> str:
        response = client.post(path, data=form, follow_redirects=False)
        assert response.status_code == 303, response.text
        return response.headers["location"]

    with ThreadPoolExecutor(2) as pool:
        landed = list(pool.map(submit, range(2)))
    return [*landed, submit(2)]


def test_confirming_a_certificate_twice_issues_one(live_server: str, resident: DemoResident) -> None:
    client, token = _signed_in(live_server, resident)
    preview = client.post("/portal/certificates", data={"csrf_token": token, "proof": "NO_HOUSING",
                                                        "purpose": "申请公租房"})
    assert preview.status_code == 200 and "确认开具" in preview.text
    fields = _hidden_fields(preview.text, "/portal/certificates")
    landed = _submitted_twice_at_once_and_again(client, "/portal/certificates", fields)
    assert len(set(landed)) == 1 and "issued=" in landed[0], landed
    listed = client.get("/api/v1/me/certificates").json()
    assert len(listed) == 1


def test_agreeing_to_a_consent_twice_records_one(live_server: str, resident: DemoResident) -> None:
    client, _token = _signed_in(live_server, resident)
    preview = client.get("/portal/consents/new", params={"matter": "PUBLIC_RENTAL_HOUSING", "department": "ZJ"})
    assert preview.status_code == 200 and "同意授权" in preview.text
    fields = [*_hidden_fields(preview.text, "/portal/consents"), ("decision", "release")]
    landed = _submitted_twice_at_once_and_again(client, "/portal/consents", fields)
    assert len(set(landed)) == 1 and "granted=" in landed[0], landed
    assert len(client.get("/api/v1/me/consents").json()) == 1


def test_a_stale_page_says_why_it_did_not_sign_out_or_withdraw(live_server: str, resident: DemoResident) -> None:
    """The citizen signed in again in another tab, so this page's form token is stale: 退出登录 and
    撤回 change nothing (a form token is what keeps other sites from doing either), and say so."""
    first, stale_token = _signed_in(live_server, resident)
    consent = first.post("/api/v1/me/consents", json={"matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["NO_HOUSING"],
                                                     "department": "ZJ", "days": 30}).json()["id"]
    again, _ = _signed_in(live_server, resident)  # the same citizen, signed in anew: another cookie
    withdrawn = again.post(f"/portal/consents/{consent}/withdrawal", data={"csrf_token": stale_token})
    assert withdrawn.status_code == 400 and "页面已过期" in withdrawn.text and "授权未撤回" in withdrawn.text
    assert [c["status"] for c in again.get("/api/v1/me/consents").json()] == ["active"]
    signed_out = again.post("/portal/sign-out", data={"csrf_token": stale_token})
    assert signed_out.status_code == 400 and "页面已过期" in signed_out.text and "未能退出登录" in signed_out.text
    assert "mz_identity" not in signed_out.headers.get("set-cookie", "")


def test_agreeing_on_a_stale_page_asks_again_not_says_cancelled(live_server: str, resident: DemoResident) -> None:
    """The citizen opened the department's link, signed in again in another tab, then pressed
    同意授权 on the first page: nothing is recorded (the form token keeps other sites from
    agreeing for them), and the preview is shown again saying why, to agree on — not 已取消."""
    first, _token = _signed_in(live_server, resident)
    preview = first.get("/portal/consents/new", params={"matter": "PUBLIC_RENTAL_HOUSING", "department": "ZJ"})
    fields = [*_hidden_fields(preview.text, "/portal/consents"), ("decision", "release")]
    again, _ = _signed_in(live_server, resident)
    stale = again.post("/portal/consents", data=_form(fields), follow_redirects=False)
    assert stale.status_code == 400 and "页面已过期" in stale.text and "同意授权" in stale.text, stale.text[:400]
    assert "已取消" not in stale.text
    assert again.get("/api/v1/me/consents").json() == []
    fresh = [*_hidden_fields(stale.text, "/portal/consents"), ("decision", "release")]
    agreed = again.post("/portal/consents", data=_form(fresh), follow_redirects=False)
    assert agreed.status_code == 303 and "granted=" in agreed.headers["location"]
    assert len(again.get("/api/v1/me/consents").json()) == 1


def test_after_signing_out_a_copy_of_the_cookie_acts_for_nobody(live_server: str, resident: DemoResident) -> None:
    """A citizen signs out on a shared machine (a 政务服务 kiosk): a copy of the cookie, in another
    browser profile or a proxy's log, no longer reads the data-use log, the consents or issues a
    certificate in the citizen's name, for the hour the assertion would still have run."""
    client, token = _signed_in(live_server, resident)
    copied = client.cookies["mz_identity"]
    assert client.get("/api/v1/me/access-log").status_code == 200
    signed_out = client.post("/portal/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert signed_out.status_code == 303
    thief = httpx.Client(base_url=live_server, cookies={"mz_identity": copied}, timeout=30)
    assert thief.get("/api/v1/me/access-log").status_code == 401
    assert thief.get("/api/v1/me/consents", headers={"Authorization": f"Bearer {copied}"}).status_code == 401
    assert "登录" in thief.get("/portal/consents").text and resident.name not in thief.get("/portal/consents").text
    assert _signed_in(live_server, resident)[0].get("/api/v1/me/access-log").status_code == 200  # signing in again works


def test_back_and_reload_after_issuing_lands_on_the_certificate_issued(live_server: str,
                                                                       resident: DemoResident) -> None:
    """After 确认开具, Back shows the preview, which was the answer to a POST: the browser asks to
    resend the choice, and 确认开具 on that preview must land on the certificate already issued,
    not issue a second one (a second pull logged in the citizen's name)."""
    client, _token = _signed_in(live_server, resident)
    home = client.get("/portal").text
    choice = {**_form(_hidden_fields(home, "/portal/certificates")), "proof": "NO_HOUSING", "purpose": "申请公租房"}
    landed = []
    for _visit in range(2):  # the choice as posted, and resent by Back and reload
        preview = client.post("/portal/certificates", data=choice)
        assert preview.status_code == 200 and "确认开具" in preview.text
        fields = _hidden_fields(preview.text, "/portal/certificates")
        confirmed = client.post("/portal/certificates", data=_form(fields), follow_redirects=False)
        assert confirmed.status_code == 303, confirmed.text
        landed.append(confirmed.headers["location"])
    assert landed[0] == landed[1], landed
    assert len(client.get("/api/v1/me/certificates").json()) == 1
    other = client.post("/portal/certificates", data={**choice, "purpose": "申请人才公寓"})  # another purpose: another
    confirmed = client.post("/portal/certificates", data=_form(_hidden_fields(other.text, "/portal/certificates")),
                            follow_redirects=False)
    assert confirmed.status_code == 303 and confirmed.headers["location"] != landed[0]
    assert len(client.get("/api/v1/me/certificates").json()) == 2
