"""The OpenAPI document is valid OpenAPI 3, describes every API route, and documents errors
as problem+json; the interactive docs page is served with local assets."""

from __future__ import annotations

import re

import httpx
from flask import Flask
from openapi_spec_validator import validate

from api.settings import Settings
from demo.data import sample_residents
from exchange.clients import ClientScope
from tests.api.test_certificates_api import client_token, signed_in
from tests.api.test_org_licenses import legal_person


def test_openapi_document_is_valid_and_complete(app: Flask, live_server: str) -> None:
    spec = httpx.get(f"{live_server}/api/v1/openapi.json").json()
    validate(spec)
    documented = {path for path in spec["paths"]}
    api_routes = {
        re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and "/docs" not in rule.rule and not rule.rule.endswith("openapi.json")
    } | {"/healthz", "/readyz"}
    assert api_routes <= documented
    not_found = spec["paths"]["/api/v1/catalog/proofs/{code}"]["get"]["responses"]
    assert "default" in not_found
    error = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert list(error) == ["application/problem+json"]


def test_a_generated_client_reads_every_error_and_when_to_retry(live_server: str) -> None:
    """A department that generates its client from the document gets the problem body of every
    error an operation names (consent-required, conflict, source-unavailable: what it branches
    on), and the Retry-After of the answers that carry one."""
    spec = httpx.get(f"{live_server}/api/v1/openapi.json").json()
    bare = [(path, method, status) for path, operations in spec["paths"].items()
            for method, operation in operations.items() if isinstance(operation, dict)
            for status, response in operation.get("responses", {}).items()
            if status.isdigit() and int(status) >= 400 and "$ref" not in response and "content" not in response]
    assert bare == []
    pull = spec["paths"]["/api/v1/exchange/requests"]["post"]["responses"]
    for status in ("409", "503"):
        response = pull[status]
        if "$ref" in response:
            response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        assert "Retry-After" in response.get("headers", {}), (status, response)


def test_interactive_docs_load_a_current_swagger_ui_locally(live_server: str) -> None:
    page = httpx.get(f"{live_server}/api/v1/docs", follow_redirects=True)
    assert page.status_code == 200
    assert "/api/v1/docs/swagger-ui-bundle.js" in page.text
    assert '"url": "/api/v1/openapi.json"' in page.text
    version = re.search(r'<meta name="version" content="(\d+)\.', page.text)
    assert version is not None and int(version.group(1)) >= 5  # Swagger UI 5 renders OpenAPI 3.1 too
    asset = httpx.get(f"{live_server}/api/v1/docs/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000


def test_the_jwk_set_is_the_object_the_document_declares(live_server: str) -> None:
    spec = httpx.get(f"{live_server}/api/v1/openapi.json").json()
    declared = spec["paths"]["/api/v1/trust/jwks.json"]["get"]["responses"]["200"]["content"]
    response = httpx.get(f"{live_server}/api/v1/trust/jwks.json")
    schema = declared[response.headers["content-type"]]["schema"]
    jwks = response.json()
    assert schema["type"] == "object" and isinstance(jwks, dict)
    assert set(schema["required"]) <= set(jwks) and schema["properties"]["keys"]["type"] == "array"
    assert all(set(schema["properties"]["keys"]["items"]["required"]) <= set(key) for key in jwks["keys"])


def test_every_operation_that_needs_credentials_lists_its_401_and_problems_their_members(app: Flask) -> None:
    """A client generated from the document handles the answer to missing credentials, and a strict
    validator accepts the problems the service sends (`detail_zh`, `alternative` on 422s)."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    secured = [(path, method) for path, operations in document["paths"].items()
               for method, operation in operations.items()
               if isinstance(operation, dict) and operation.get("security") and "401" not in operation["responses"]]
    assert secured == []
    assert {"detail_zh", "alternative"} <= set(document["components"]["schemas"]["Problem"]["properties"])
    issue = document["paths"]["/api/v1/me/certificates"]["post"]["responses"]
    assert {"401", "404", "409", "422", "503"} <= set(issue)


def test_the_headers_a_client_acts_on_are_declared(app: Flask) -> None:
    """A generated client reads where a new application or certificate is (`Location`), asks for
    an answer at once (`Prefer: respond-async`) and tells a replay from a first answer
    (`Idempotent-Replayed`): each is in the document where the service sends or reads it."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    paths = document["paths"]
    filing = paths["/api/v1/matters/{code}/applications"]["post"]
    assert {status: "Location" in filing["responses"][status].get("headers", {}) for status in ("200", "201", "202")} \
        == {"200": True, "201": True, "202": True}
    assert "Preference-Applied" in filing["responses"]["202"]["headers"]
    assert [p["name"] for p in filing["parameters"] if p["in"] == "header"] == ["Prefer"]
    assert "Location" in paths["/api/v1/me/certificates"]["post"]["responses"]["201"]["headers"]
    for path in ("/api/v1/exchange/requests", "/api/v1/exchange/license-uses"):
        assert "Idempotent-Replayed" in paths[path]["post"]["responses"]["200"]["headers"], path


def test_the_access_log_a_citizen_reads_declares_the_outcomes_it_shows(app: Flask) -> None:
    """谁用了我的数据 lists accesses; the chain's consent entries are not among them, nor in the
    outcomes a generated client is told to expect."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    schema = next(schema for name, schema in document["components"]["schemas"].items()
                  if name.startswith("AccessLogEntry"))
    assert schema["properties"]["outcome"]["enum"] == ["allowed", "denied", "failed"]


def test_each_operation_names_the_answers_a_caller_gets(live_server: str, settings: Settings) -> None:
    """A client generated from the document branches on statuses it finds there, not only under the
    catch-all `default`: each operation names its success; asked for a code, identifier or id
    that names nothing, each answers 404, and names it; each that answers with an ETag answers
    304 to it, and names that (the catalog, the CRL, the JWK Set, a status list), and no other
    names a 304."""
    spec = httpx.get(f"{live_server}/api/v1/openapi.json").json()
    headers = {"clientToken": {"Authorization": f"Bearer {client_token(settings, 'ZJ', list(ClientScope))}"},
               "citizenAssertion": signed_in(live_server, sample_residents(settings.sources_dir, 1)[0]),
               "legalPersonAssertion": legal_person(live_server)}
    unnamed, conditional = [], []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            named = set(operation["responses"])
            schemes = [scheme for requirement in operation.get("security", []) for scheme in requirement]
            caller = headers[schemes[0]] if schemes else {}
            if not any(status.startswith("2") for status in named):
                unnamed.append((path, method, "2xx"))
            if "{" in path and method in ("get", "delete"):
                answer = httpx.request(method, live_server + re.sub(r"{[^}]+}", "999999", path), headers=caller)
                if answer.status_code != 404 or "404" not in named:
                    unnamed.append((path, method, answer.status_code))
            if method == "get" and "{" not in path or path == "/api/v1/status-lists/{list_id}":
                url = live_server + path.replace("{list_id}", "1")
                first = httpx.get(url, headers=caller)
                if "etag" in first.headers:
                    again = httpx.get(url, headers={**caller, "If-None-Match": first.headers["etag"]})
                    conditional.append(path)
                    if again.status_code != 304 or "304" not in named:
                        unnamed.append((path, method, again.status_code))
                elif "304" in named:
                    unnamed.append((path, method, "304 named, no ETag sent"))
    assert unnamed == []
    assert "403" in spec["paths"]["/api/v1/licenses"]["post"]["responses"]  # a type the department does not issue
    assert {"/api/v1/catalog", "/api/v1/trust/crl", "/api/v1/trust/jwks.json",
            "/api/v1/status-lists/{list_id}"} <= set(conditional), conditional
