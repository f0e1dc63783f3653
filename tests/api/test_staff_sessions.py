"""Staff sign in as themselves (over real HTTP): the session cookie, acting only for one's own
department, the CSRF token on every change, sign-out, and the identity provider's hand-over
(`POST /caseworker/session`), taken only from its site or ours, with staff and citizen assertions
never taken for each other."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import ECKey

from api.database import standalone_session
from api.settings import Settings
from core.base64url import b64url_decode
from catalog.versions import read_live_catalog
from demo.applications import PUBLIC_RENTAL_HOUSING
from demo.identity_provider import DevIdentityProvider
from demo.identity_provider import DemoStaff, demo_staff, issue_dev_staff_assertion
from tests.api.test_applications import households

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def staff_of(settings: Settings, department: str) -> DemoStaff:
    with standalone_session(settings.database_url) as session:
        catalog = read_live_catalog(session)
    [staff] = [member for member in demo_staff(catalog) if member.department == department]
    return staff


def signed_in(base: str, settings: Settings, department: str) -> tuple[httpx.Client, str, DemoStaff]:
    """A browser-like client signed in as the demo caseworker of `department`, and the page's CSRF token."""
    staff = staff_of(settings, department)
    client = httpx.Client(base_url=base, timeout=60)
    answer = client.post("/dev-idp/staff-login", data={"staff_number": staff.staff_number, "next": "/caseworker"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/caseworker"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("mz_staff=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = client.get("/caseworker")
    assert page.status_code == 200 and f"{staff.name}（工号 {staff.staff_number}）" in page.text
    return client, CSRF.search(page.text).group(1), staff


def demo_request(client: httpx.Client) -> dict:
    listed = client.get("/caseworker/demo-households", params={"situation": "public_housing_eligible"})
    assert listed.status_code == 200, listed.text
    return listed.json()[0]["request"]


def test_the_signed_out_page_offers_the_staff_sign_in(live_server: str) -> None:
    page = httpx.get(f"{live_server}/caseworker")
    assert page.status_code == 200 and 'id="staff-sign-in"' in page.text and "工作人员登录" in page.text
    assert httpx.get(f"{live_server}/api/v1/applications").status_code == 401


def test_a_staff_member_files_for_their_department_and_is_the_caseworker_of_record(
        live_server: str, settings: Settings) -> None:
    client, csrf, staff = signed_in(live_server, settings, "ZJ")
    body = demo_request(client)
    assert body["caseworker_id"] == f"{staff.name}（工号 {staff.staff_number}）"
    filed = client.post(f"/api/v1/matters/{PUBLIC_RENTAL_HOUSING}/applications",
                        json={**body, "caseworker_id": "someone-else"}, headers={"X-CSRF-Token": csrf})
    assert filed.status_code == 201, filed.text
    application = filed.json()
    assert application["caseworker_id"] == f"{staff.name}（工号 {staff.staff_number}）"
    assert application["decision"] == "eligible"
    assert [row["id"] for row in client.get("/api/v1/applications").json()] == [application["id"]]
    applicant = body["applicant"]
    citizen = DevIdentityProvider.open(settings.dev_idp_dir).issue_dev_assertion(applicant["id_number"], applicant["name"])
    log = httpx.get(f"{live_server}/api/v1/me/access-log", headers={"Authorization": f"Bearer {citizen}"}).json()
    assert log["total"] >= 3 and {entry["caseworker_id"] for entry in log["entries"]} == {application["caseworker_id"]}

    other, other_csrf, _ = signed_in(live_server, settings, "MZ")
    refused = other.post(f"/api/v1/matters/{PUBLIC_RENTAL_HOUSING}/applications", json=demo_request(client),
                         headers={"X-CSRF-Token": other_csrf})
    assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/forbidden-by-policy")
    assert other.get(f"/api/v1/applications/{application['id']}").status_code == 404
    assert other.get("/api/v1/applications").json() == []


def test_a_change_without_the_csrf_token_is_unauthenticated_and_changes_nothing(
        live_server: str, settings: Settings) -> None:
    client, csrf, _ = signed_in(live_server, settings, "ZJ")
    body = demo_request(client)
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        refused = client.post(f"/api/v1/matters/{PUBLIC_RENTAL_HOUSING}/applications", json=body, headers=headers)
        assert refused.status_code == 401, refused.text
    other, other_csrf, _ = signed_in(live_server, settings, "ZJ")
    stolen = client.post(f"/api/v1/matters/{PUBLIC_RENTAL_HOUSING}/applications", json=body,
                         headers={"X-CSRF-Token": other_csrf})  # another session's token
    assert stolen.status_code == 401
    assert client.get("/api/v1/applications").json() == []


def test_sign_out_ends_the_session(live_server: str, settings: Settings) -> None:
    """Signing out ends the session on the server too: a copy of the cookie taken before (another
    tab, a shared machine's profile) acts for nobody afterwards, and the assertion it holds cannot
    be handed over again; the staff member signs in afresh."""
    client, csrf, _ = signed_in(live_server, settings, "ZJ")
    copied = httpx.Client(base_url=live_server, timeout=30, cookies={"mz_staff": client.cookies["mz_staff"]})
    assert copied.get("/api/v1/applications").status_code == 200
    kept = client.post("/caseworker/sign-out", data={})  # no token: another site cannot sign one out
    assert kept.status_code == 303 and "Set-Cookie" not in kept.headers
    assert client.get("/api/v1/applications").status_code == 200
    assertion = copied.cookies["mz_staff"]
    ended = client.post("/caseworker/sign-out", data={"csrf_token": csrf})
    assert ended.status_code == 303 and ended.headers["Set-Cookie"].startswith("mz_staff=;")
    assert "mz_staff" not in client.cookies
    assert client.get("/api/v1/applications").status_code == 401
    assert 'id="staff-sign-in"' in client.get("/caseworker").text
    assert copied.get("/api/v1/applications").status_code == 401
    assert 'id="staff-sign-in"' in copied.get("/caseworker").text
    again = httpx.post(f"{live_server}/caseworker/session", data={"assertion": assertion})
    assert again.status_code == 400 and "mz_staff=" not in again.headers.get("Set-Cookie", "")
    fresh, _, _ = signed_in(live_server, settings, "ZJ")  # a new sign-in is a new session
    assert fresh.get("/api/v1/applications").status_code == 200


def test_the_identity_providers_hand_over_and_assertions_kept_apart(
        live_server: str, settings: Settings) -> None:
    provider = DevIdentityProvider.open(settings.dev_idp_dir)
    staff = staff_of(settings, "ZJ")
    client = httpx.Client(base_url=live_server, timeout=30)
    bad = client.post("/caseworker/session", data={"assertion": "not-a-jwt"})
    assert bad.status_code == 400 and "登录凭证无效" in bad.text and "mz_staff" not in client.cookies

    citizen = provider.issue_dev_assertion("11010519491231002X", "张三")
    assert client.post("/caseworker/session", data={"assertion": citizen}).status_code == 400
    stranger = DevIdentityProvider(signing_key=ECKey.generate_key("P-256", auto_kid=True))
    forged = issue_dev_staff_assertion(stranger, staff)
    assert client.post("/caseworker/session", data={"assertion": forged}).status_code == 400
    unknown = issue_dev_staff_assertion(provider, DemoStaff("XX-0001", "某人", "XX"))
    assert client.post("/caseworker/session", data={"assertion": unknown}).status_code == 400

    assertion = issue_dev_staff_assertion(provider, staff)
    handed = client.post("/caseworker/session", data={"assertion": assertion})
    assert handed.status_code == 200 and 'http-equiv="refresh" content="0; url=/caseworker"' in handed.text
    assert "登录成功" in handed.text and client.get("/api/v1/applications").status_code == 200
    [cookie] = [header for header in handed.headers.get_list("set-cookie") if header.startswith("mz_staff=")]
    lifetime = (lambda claims: claims["exp"] - claims["iat"])(json.loads(b64url_decode(assertion.split(".")[1])))
    assert int(re.search(r"Max-Age=(\d+)", cookie).group(1)) >= lifetime + 3600  # so its end can be announced
    workbench = client.get("/caseworker").text  # a browser that runs no script is told the page needs it
    assert re.search(r'<noscript><p class="error" id="noscript-hint">办件工作台需要浏览器运行脚本', workbench)
    as_citizen = httpx.get(f"{live_server}/api/v1/me/access-log", headers={"Authorization": f"Bearer {assertion}"})
    assert as_citizen.status_code == 401
    expired = issue_dev_staff_assertion(provider, staff, now=datetime(2020, 1, 1, tzinfo=timezone.utc))
    late = httpx.Client(base_url=live_server, cookies={"mz_staff": expired})
    assert late.get("/api/v1/applications").status_code == 401
    assert "您的登录已过期" in late.get("/caseworker").text


def test_a_client_token_still_acts_as_its_system_beside_a_staff_session(
        live_server: str, settings: Settings) -> None:
    from tests.api.test_caseworker_page import housing_token

    client, _, _ = signed_in(live_server, settings, "MZ")
    token = housing_token(settings)
    [household] = households(settings, "public_housing_eligible")
    assert household
    listed = client.get("/api/v1/applications", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    refused = client.get("/api/v1/applications", headers={"Authorization": "Bearer mzc_0123456789abcdef_" + "x" * 43})
    assert refused.status_code == 401  # a bad token is not rescued by the session


def test_a_hand_over_posted_by_another_site_signs_nobody_in(live_server: str, settings: Settings) -> None:
    """Login CSRF: a page of another site posting someone's valid assertion would sign the
    visitor's browser in as that someone; only the provider's site and ours may hand over."""
    assertion = issue_dev_staff_assertion(DevIdentityProvider.open(settings.dev_idp_dir), staff_of(settings, "ZJ"))
    for refused in ({"Origin": "http://attacker.example"}, {"Origin": "null"},
                    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
                    {"Origin": live_server.replace("127.0.0.1", "localhost")},
                    {"Sec-Fetch-Site": "cross-site"}):
        client = httpx.Client(base_url=live_server, timeout=30)
        answer = client.post("/caseworker/session", data={"assertion": assertion}, headers=refused)
        assert answer.status_code == 403, refused
        assert "不是来自本市统一身份认证平台" in answer.text and "Set-Cookie" not in answer.headers
        assert client.get("/api/v1/applications").status_code == 401
    for taken in ({"Origin": live_server}, {"Origin": live_server, "Sec-Fetch-Site": "same-origin"},
                  {"Origin": "null", "Sec-Fetch-Site": "same-origin"}, {}):  # null: our pages send no referrer
        client = httpx.Client(base_url=live_server, timeout=30)
        answer = client.post("/caseworker/session", data={"assertion": assertion}, headers=taken)
        assert answer.status_code == 200 and answer.headers["Set-Cookie"].startswith("mz_staff="), taken
        assert client.get("/api/v1/applications").status_code == 200


def test_the_providers_site_is_its_issuers_unless_configured(settings: Settings, tmp_path: Path) -> None:
    """MIANZHENG_IDP_ORIGIN names the provider's sites; without it, an issuer that is a web
    address is the provider's site; a value that is no origin is refused until it is fixed."""
    from api.app import create_app
    from tests.support.live_server import serving

    city_idp = DevIdentityProvider(signing_key=ECKey.generate_key("P-256", auto_kid=True),
                                   issuer="https://SSO.city.example:443/realms/gov")
    key_file = tmp_path / "city-idp.pem"
    key_file.write_bytes(city_idp.signing_key.as_pem(private=False))
    assertion = issue_dev_staff_assertion(city_idp, staff_of(settings, "ZJ"))
    configured = Settings.from_environment({
        "MIANZHENG_VAR_DIR": str(settings.var_dir), "MIANZHENG_DATABASE_URL": settings.database_url,
        "MIANZHENG_IDP_ORIGIN": " https://login.city.example , http://10.0.0.7:8080/"})
    cases = [
        ((), {"https://sso.city.example": 200, "https://login.city.example": 403}),
        (configured.idp_origins, {"https://login.city.example": 200, "http://10.0.0.7:8080": 200,
                                  "https://sso.city.example": 403, "http://10.0.0.7": 403}),
        (("https://login.city.example/sign-in",), {"https://login.city.example": 503}),
    ]
    for origins, answers in cases:
        production = dataclasses.replace(settings, dev_idp=False, idp_issuer=city_idp.issuer,
                                         idp_public_key_file=key_file, idp_origins=origins)
        app = create_app(production)
        with serving(app) as base:
            for origin, status in answers.items():
                answer = httpx.post(f"{base}/caseworker/session", data={"assertion": assertion},
                                    headers={"Origin": origin})
                assert answer.status_code == status, (origins, origin, answer.text[:300])
                if status == 503:
                    assert "MIANZHENG_IDP_ORIGIN" in answer.text
                    ready = httpx.get(f"{base}/readyz")  # the operator's probe says so, not only each sign-in
                    assert ready.status_code == 503 and "MIANZHENG_IDP_ORIGIN" in ready.text, ready.text
        app.extensions["mianzheng"].engine.dispose()


def test_serve_refuses_to_start_with_a_sign_in_address_that_is_no_origin(settings: Settings) -> None:
    """An operator pastes the provider's sign-in page (with its path) into MIANZHENG_IDP_ORIGIN:
    `mianzheng serve` says so and does not start a server whose every sign-in would be a 503."""
    from tests.support.cli import cli_environment, run_cli_process
    from tests.support.postgres import free_port

    env = {**cli_environment(settings.database_url, settings.var_dir),
           "MIANZHENG_IDP_ORIGIN": "https://login.city.example/sign-in"}
    refused = run_cli_process(env, "serve", "--port", str(free_port()), "--jobs-interval", "0")  # a server would time out
    assert refused.returncode != 0 and "MIANZHENG_IDP_ORIGIN" in refused.stderr, refused.stdout + refused.stderr


@pytest.mark.parametrize("value", ["https://sso.example.gov.cn\\login", "https://sso.exa mple.gov.cn",
                                   "https://sso.example.gov.cn%2F", "https://sso..example.gov.cn",
                                   "https://-sso.example.gov.cn", "https://登录.example.gov.cn",
                                   "https://[2001:db8:0:0:0:0:0:1]", "https://127.000.000.001", "https://0x7f.0.0.1",
                                   "https://2130706433", "https://[::ffff:127.0.0.1]", "https://[fe80::1%25eth0]",
                                   "https://sso.example.gov.cn."])
def test_a_sign_in_address_whose_host_no_browser_sends_is_refused(settings: Settings, value: str) -> None:
    """A Windows-style path, a space, an escape or an empty label in the host: a browser would
    never send that as an `Origin` (it reads a backslash as a slash; a Chinese host it sends in
    punycode, an IP address in its shortest form), so every hand-over from the provider would be
    refused while `serve` and /readyz said all was well. It is refused as no origin, as a path is."""
    from api.identity_config import city_provider
    from exchange.identity import InvalidKeyMaterial

    with pytest.raises(InvalidKeyMaterial, match="MIANZHENG_IDP_ORIGIN.*no trailing dot"):
        city_provider(dataclasses.replace(settings, dev_idp=False, idp_origins=(value,)))


def test_staff_of_two_departments_with_the_same_staff_number_file_apart(live_server: str, settings: Settings) -> None:
    """工号 are each department's own: the public security bureau's 0042 and the medical insurance
    bureau's 0042 file the same 新生儿出生一件事 under the same request id, and each gets an
    application of their own department, never the other's."""
    from tests.api.test_matters import envelope, person

    provider = DevIdentityProvider.open(settings.dev_idp_dir)
    [household] = households(settings, "newborn")
    baby = next(member for member in household.members if member.age == 0 and member.relation == "child")
    body = envelope("newborn-same-number", household.head, members=[person(m) for m in household.members[1:]],
                    child=person(baby))
    filed = {}
    for department in ("GA", "YB"):
        client = httpx.Client(base_url=live_server, timeout=60)
        handed = client.post("/caseworker/session", data={
            "assertion": issue_dev_staff_assertion(provider, DemoStaff("0042", "王晓燕", department))})
        assert handed.status_code == 200
        csrf = CSRF.search(client.get("/caseworker").text).group(1)
        answer = client.post("/api/v1/matters/NEWBORN_BIRTH/applications", json=body, headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 201, (department, answer.status_code, answer.text[:300])
        filed[department] = answer.json()["id"]
    assert filed["GA"] != filed["YB"]
