"""Every page is sent with a content security policy, no framing, no referrer and no sniffing,
and every page still works under it in a real browser (no refused script, style or image)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser

PAGES = ("/", "/catalog", "/verify", "/statistics", "/portal", "/caseworker", "/dev-idp/login", "/api/v1/docs",
         "/problems/not-found")


@pytest.mark.parametrize("path", [*PAGES, "/api/v1/catalog", "/api/v1/nothing-here"])
def test_security_headers(live_server: str, path: str) -> None:
    headers = httpx.get(live_server + path).headers
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert ("'unsafe-inline'" in policy) == path.startswith("/api/v1/docs")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"


def test_pages_work_under_their_policy(browser: Browser, live_server: str) -> None:
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    for path in PAGES:
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        if path == "/api/v1/docs":  # Swagger UI rendered: its inline script ran
            page.wait_for_selector(".swagger-ui .info")
    assert refused == []
    page.close()


def test_what_is_answered_to_someone_signed_in_is_never_cached(live_server: str, settings) -> None:  # type: ignore[no-untyped-def]
    """A citizen's own JSON (their licenses with full ID numbers, consents, access log) stays out
    of shared and browser caches; what anyone may read, such as the catalog, may be cached."""
    from demo.data import sample_residents

    person = sample_residents(settings.sources_dir, 1)[0]
    assertion = httpx.post(f"{live_server}/dev-idp/token",
                           json={"name": person.name, "id_number": person.id_number}).json()["assertion"]
    for path in ("/api/v1/me/licenses", "/api/v1/me/consents", "/api/v1/me/access-log", "/api/v1/me/certificates"):
        for credentials in ({"headers": {"Authorization": f"Bearer {assertion}"}}, {"cookies": {"mz_identity": assertion}}):
            response = httpx.get(live_server + path, **credentials)  # type: ignore[arg-type]
            assert response.status_code == 200 and "no-store" in response.headers.get("cache-control", ""), path
    assert "no-store" not in httpx.get(f"{live_server}/api/v1/catalog").headers.get("cache-control", "")


def test_an_https_installation_asks_for_https_and_signs_out_with_a_secure_cookie(settings) -> None:  # type: ignore[no-untyped-def]
    """Served at an https address, every answer tells the browser to keep to https, and the
    sign-out's deleting cookie carries the same Secure and SameSite as the sign-in's did."""
    import dataclasses
    import re

    from api.app import create_app

    for public_url, https in (("https://mz.example.gov.cn", True), ("http://127.0.0.1:8000", False)):
        app = create_app(dataclasses.replace(settings, public_url=public_url))
        client = app.test_client()
        assert ("Strict-Transport-Security" in client.get("/").headers) is https
        signed_in = client.post("/dev-idp/login", data={"name": "刘佳国", "id_number": "330703199006228351"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/portal").get_data(as_text=True))
        assert signed_in.status_code in (200, 303) and token is not None
        deleted = client.post("/portal/sign-out", data={"csrf_token": token.group(1)}).headers.get("Set-Cookie", "")
        assert "mz_identity=;" in deleted and ("Secure" in deleted) is https and "SameSite=Lax" in deleted
        app.extensions["mianzheng"].engine.dispose()
