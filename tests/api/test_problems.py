"""Every error the HTTP API gives is an RFC 9457 problem document: the framework's own
404/405/413/415, malformed JSON, failed validation, and the catalog validator's findings."""

from __future__ import annotations

import json

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from catalog.loading import bundled_catalog_path, load_catalog
from exchange.clients import ClientScope
from tests.api.test_certificates_api import client_token
from tests.support.live_server import serving

PROBLEM = "application/problem+json"


@pytest.fixture
def client(live_server: str, settings: Settings):
    """A client of the catalog administrator's system (the validator's only callers)."""
    token = client_token(settings, "SJ", [ClientScope.CATALOG_ADMIN])
    with httpx.Client(base_url=live_server, timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def _problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"] and body["title_zh"] and body["detail"]
    assert "Traceback" not in response.text
    return body


def test_unknown_route(client: httpx.Client) -> None:
    _problem(client.get("/api/v1/nothing-here"), 404, "not-found")


def test_wrong_method_keeps_the_allow_header(client: httpx.Client) -> None:
    response = client.delete("/api/v1/catalog/proofs")
    _problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["allow"]


def test_body_of_the_wrong_media_type(client: httpx.Client) -> None:
    response = client.post("/api/v1/catalog/validation", content=b"departments=1",
                           headers={"content-type": "application/x-www-form-urlencoded"})
    _problem(response, 415, "unsupported-media-type")


def test_malformed_json(client: httpx.Client) -> None:
    response = client.post("/api/v1/catalog/validation", content=b'{"departments": [',
                           headers={"content-type": "application/json"})
    body = _problem(response, 400, "invalid-request")
    assert body["errors"][0]["pointer"] == "#"


def test_a_body_naming_a_member_twice_is_refused_not_read_one_way(client: httpx.Client) -> None:
    """Two readers of `{"request_id": "a", "request_id": "b"}` (the department's audit trail, the
    exchange) may take either: the body is refused, naming the member."""
    response = client.post("/api/v1/catalog/validation", headers={"content-type": "application/json"},
                           content=b'{"departments": [], "departments": []}')
    body = _problem(response, 400, "invalid-request")
    assert "duplicate JSON member 'departments'" in body["detail"]


def test_missing_member_is_named_by_pointer(client: httpx.Client) -> None:
    response = client.post("/api/v1/catalog/validation", json={"departments": [], "proofs": []})
    body = _problem(response, 400, "invalid-request")
    assert {"pointer": "#/matters", "detail": "Missing data for required field."} in body["errors"]


def test_too_large_a_body(client: httpx.Client) -> None:
    response = client.post("/api/v1/catalog/validation", content=b"[" + b"0," * 1_100_000 + b"0]",
                           headers={"content-type": "application/json"})
    _problem(response, 413, "payload-too-large")


def test_valid_catalog_document_passes_validation(client: httpx.Client) -> None:
    catalog = load_catalog(bundled_catalog_path())
    response = client.post("/api/v1/catalog/validation", json=catalog.to_document())
    assert response.status_code == 200
    assert response.json()["content_hash"] == catalog.content_hash()


def test_broken_catalog_document_lists_each_problem(client: httpx.Client) -> None:
    document = load_catalog(bundled_catalog_path()).to_document()
    document["proofs"][0]["department"] = "NOWHERE"
    document["matters"][0]["consumers"].append("ALSO_NOWHERE")
    body = _problem(client.post("/api/v1/catalog/validation", json=document), 400, "invalid-request")
    details = json.dumps(body["errors"], ensure_ascii=False)
    assert "NOWHERE" in details and "ALSO_NOWHERE" in details
    assert {e["entry"] for e in body["errors"]} >= {document["proofs"][0]["code"], document["matters"][0]["code"]}


def test_a_number_beyond_any_float_is_a_field_error_not_a_server_error(client: httpx.Client) -> None:
    document = load_catalog(bundled_catalog_path()).to_document()
    document["city"][0]["value"] = 10**400
    body = _problem(client.post("/api/v1/catalog/validation", json=document), 400, "invalid-request")
    assert any(e.get("field") == "value" for e in body["errors"]), body["errors"]


def test_problem_types_are_documented_pages(client: httpx.Client) -> None:
    page = client.get("/problems/invalid-request")
    assert page.status_code == 200
    assert "请求内容有误" in page.text


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
BROWSER = {"Accept": BROWSER_ACCEPT, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
"""What a browser sends when its user opens an address (a link, the address bar)."""


@pytest.mark.parametrize("path", ["/no-such-page", "/api/v1/no-such-endpoint"])
def test_a_browser_gets_a_chinese_page_an_api_client_a_problem(live_server: str, path: str) -> None:
    page = httpx.get(live_server + path, headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "页面或文件不存在" in page.text and 'lang="zh-CN"' in page.text
    for accept in ("*/*", "application/json", "application/problem+json"):
        api = httpx.get(live_server + path, headers={"Accept": accept})
        assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


JAVA_ACCEPT = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"
"""What Java's HttpURLConnection sends when its caller sets no Accept header."""


def test_a_department_system_whose_library_lists_html_still_gets_the_problem(client: httpx.Client) -> None:
    """A department's back-end sends its HTTP library's default Accept header, which lists
    text/html, or lists it beside JSON: its errors are still problem documents it can branch
    on (type, pointer), never a page for a person."""
    for accept in (JAVA_ACCEPT, "application/json, text/html"):
        body = _problem(client.post("/api/v1/catalog/validation", headers={"Accept": accept}, json={}), 400,
                        "invalid-request")
        assert body["errors"], body
    for accept in (JAVA_ACCEPT, "application/json, text/html"):  # no token, no body: an API address still
        unknown = httpx.get(f"{client.base_url}/api/v1/catalog/proofs/NOPE", headers={"Accept": accept})
        _problem(unknown, 404, "not-found")


def test_a_pdf_link_after_sign_out_asks_the_browser_to_sign_in_again(live_server: str) -> None:
    link = "/api/v1/certificates/1.2.156.3005.2.1001.12330700MB0000027A.0000000001.01.M.pdf"
    page = httpx.get(live_server + link, headers=BROWSER)
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert "重新登录" in page.text


def test_a_crash_shows_a_browser_a_chinese_page(settings: Settings) -> None:
    app = create_app(settings)

    @app.route("/crash")
    def crash() -> str:
        raise RuntimeError("a bug")

    with serving(app) as base:
        page = httpx.get(f"{base}/crash", headers=BROWSER)
        api = httpx.get(f"{base}/crash")
    app.extensions["mianzheng"].engine.dispose()
    assert page.status_code == 500 and "服务出现故障" in page.text and "a bug" not in page.text
    assert api.status_code == 500 and api.json()["type"] == "/problems/internal-error"


def test_an_id_number_given_where_a_code_belongs_is_not_echoed_anywhere_in_the_problem(client: httpx.Client) -> None:
    """Pasted into the wrong box: the statistics' matter. Neither the detail nor the error
    naming the parameter repeats the number (a proxy or client that logs problem bodies keeps them)."""
    response = client.get("/api/v1/statistics", params={"matter": "330782199006157763"})
    assert response.status_code == 400 and response.json()["errors"][0]["parameter"] == "matter", response.text
    assert "330782199006157763" not in response.text and "330782********7763" in response.text
