"""The citizen's endpoints over real HTTP: who used my data, my consents, and the two kinds of
bearer credentials (client tokens with scopes, citizens' identity assertions)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flask import Flask, jsonify
from joserfc.jwk import ECKey

from api.app import create_app
from api.auth import require_client
from api.database import standalone_session
from api.secrets import SUBJECT_HASH_KEY, read_secret
from api.settings import Settings
from catalog.versions import read_live_catalog
from exchange.access_log import AccessEntry, Outcome, append_access
from exchange.clients import ClientScope, register_client
from demo.identity_provider import DevIdentityProvider
from exchange.subjects import subject_key
from tests.support.live_server import serving

ME = ("张三", "11010519491231002X")
NEIGHBOUR = ("李四", "440524198001010013")


@pytest.fixture
def dev_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, dev_idp=True)


@pytest.fixture
def dev_app(dev_settings: Settings) -> Iterator[Flask]:
    app = create_app(dev_settings)

    @app.route("/probe/<scope>")
    def probe(scope: str):  # type: ignore[no-untyped-def]
        client = require_client(scope)
        return jsonify(client_id=client.client_id, department=client.department_code)

    yield app
    app.extensions["mianzheng"].engine.dispose()


@pytest.fixture
def base(dev_app: Flask) -> Iterator[str]:
    with serving(dev_app) as url:
        yield url


def _assertion(base: str, person: tuple[str, str]) -> str:
    response = httpx.post(f"{base}/dev-idp/token", json={"name": person[0], "id_number": person[1]})
    assert response.status_code == 200, response.text
    return response.json()["assertion"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _record(settings: Settings, person: tuple[str, str], outcome: Outcome, n: int, client_id: str | None) -> None:
    key = subject_key(read_secret(settings, SUBJECT_HASH_KEY), person[1])
    with standalone_session(settings.database_url) as session:
        append_access(session, AccessEntry(
            outcome=outcome, reason=None if outcome is Outcome.ALLOWED else "consent-missing",
            request_id=f"req-{n}", client_id=client_id, consumer_department="ZJ", caseworker_id="zj-007",
            case_number=f"GZF-{n}", matter="PUBLIC_RENTAL_HOUSING", proof="NO_HOUSING", subject_key=key,
            legal_basis=None, consent_id=None, purpose="公租房资格审核"))


def _client(settings: Settings, scopes: list[str]) -> tuple[str, str]:
    with standalone_session(settings.database_url) as session:
        record, token = register_client(session, read_live_catalog(session), "ZJ", "公租房审批系统", scopes)
        return record.public_id, token


def test_who_used_my_data(base: str, dev_settings: Settings) -> None:
    client_id, _ = _client(dev_settings, ["exchange:request"])
    _record(dev_settings, ME, Outcome.ALLOWED, 1, client_id)
    _record(dev_settings, NEIGHBOUR, Outcome.ALLOWED, 2, client_id)
    _record(dev_settings, ME, Outcome.DENIED, 3, client_id)

    response = httpx.get(f"{base}/api/v1/me/access-log", headers=_bearer(_assertion(base, ME)))
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 2 and [e["case_number"] for e in page["entries"]] == ["GZF-3", "GZF-1"]
    newest = page["entries"][0]
    assert newest["outcome"] == "denied" and newest["outcome_zh"] == "已拒绝" and newest["reason"] == "consent-missing"
    assert newest["consumer_department_name_zh"] == "住房和城乡建设局"
    assert newest["client_name"] == "公租房审批系统" and newest["caseworker_id"] == "zj-007"
    assert newest["matter_name_zh"] == "申请公租房一件事" and newest["proof_name_zh"]
    assert ME[1] not in response.text

    second = httpx.get(f"{base}/api/v1/me/access-log?limit=1&offset=1", headers=_bearer(_assertion(base, ME)))
    assert [e["case_number"] for e in second.json()["entries"]] == ["GZF-1"]
    bad = httpx.get(f"{base}/api/v1/me/access-log?limit=0", headers=_bearer(_assertion(base, ME)))
    assert bad.status_code == 400 and bad.json()["errors"][0]["parameter"] == "limit"


def test_paging_from_the_last_entry_seen_repeats_nothing_while_new_accesses_arrive(base: str,
                                                                                   dev_settings: Settings) -> None:
    """A citizen app walks 谁用了我的数据 page by page while departments keep pulling: by offset the
    newest-first pages shift and repeat entries; from the last entry seen (`before_seq`, the
    page's `next_before_seq`) each entry comes once."""
    client_id, _ = _client(dev_settings, ["exchange:request"])
    for n in range(1, 6):
        _record(dev_settings, ME, Outcome.ALLOWED, n, client_id)
    me = _bearer(_assertion(base, ME))
    first = httpx.get(f"{base}/api/v1/me/access-log?limit=2", headers=me).json()
    _record(dev_settings, ME, Outcome.ALLOWED, 6, client_id)  # meanwhile
    _record(dev_settings, ME, Outcome.ALLOWED, 7, client_id)
    seen = [e["case_number"] for e in first["entries"]]
    before = first["next_before_seq"]
    while before is not None:
        page = httpx.get(f"{base}/api/v1/me/access-log?limit=2&before_seq={before}", headers=me).json()
        seen += [e["case_number"] for e in page["entries"]]
        before = page["next_before_seq"]
    assert seen == ["GZF-5", "GZF-4", "GZF-3", "GZF-2", "GZF-1"]
    for bad in ("0", "x", "9" * 20):  # beyond any sequence number: a 400 naming it, never a database error
        refused = httpx.get(f"{base}/api/v1/me/access-log?before_seq={bad}", headers=me)
        assert refused.status_code == 400 and refused.json()["errors"][0]["parameter"] == "before_seq", refused.text


def test_citizen_authentication_is_required_and_checked(base: str, tmp_path: Path) -> None:
    anonymous = httpx.get(f"{base}/api/v1/me/access-log")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    header, payload, signature = _assertion(base, ME).split(".")
    _, other_payload, _ = _assertion(base, NEIGHBOUR).split(".")
    for token in (f"{header}.{other_payload}.{signature}", "mzc_0123456789abcdef_secret", "garbage"):
        refused = httpx.get(f"{base}/api/v1/me/consents", headers=_bearer(token))
        assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    stranger = DevIdentityProvider.open(tmp_path / "another-dev-idp")  # same issuer name, other key
    forged = stranger.issue_dev_assertion(ME[1], ME[0])
    assert httpx.get(f"{base}/api/v1/me/consents", headers=_bearer(forged)).status_code == 401


def test_the_dev_cookie_signs_in_too(base: str) -> None:
    with httpx.Client(base_url=base) as browser_like:
        page = browser_like.post("/dev-idp/login", data={"name": ME[0], "id_number": ME[1]})
        assert page.status_code == 200 and "开发测试用身份认证" in page.text
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert browser_like.get("/api/v1/me/consents").status_code == 200


def test_consent_lifecycle_over_http(base: str) -> None:
    mine, theirs = _bearer(_assertion(base, ME)), _bearer(_assertion(base, NEIGHBOUR))
    body = {"matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["NO_HOUSING"], "department": "ZJ", "days": 30}
    created = httpx.post(f"{base}/api/v1/me/consents", json=body, headers=mine)
    assert created.status_code == 201, created.text
    consent = created.json()
    assert consent["status"] == "active" and consent["department_name_zh"] == "住房和城乡建设局"
    assert consent["channel"] == "online"

    invalid = httpx.post(f"{base}/api/v1/me/consents", json=body | {"department": "GA"}, headers=mine)
    assert invalid.status_code == 400 and invalid.json()["errors"][0]["pointer"] == "#/department"
    missing = httpx.post(f"{base}/api/v1/me/consents", json={"matter": "PUBLIC_RENTAL_HOUSING"}, headers=mine)
    assert missing.status_code == 400 and {e["pointer"] for e in missing.json()["errors"]} >= {"#/proofs", "#/days"}
    assert len(httpx.get(f"{base}/api/v1/me/consents", headers=mine).json()) == 1
    assert httpx.get(f"{base}/api/v1/me/consents", headers=theirs).json() == []

    not_theirs = httpx.delete(f"{base}/api/v1/me/consents/{consent['id']}", headers=theirs)
    assert not_theirs.status_code == 404
    withdrawn = httpx.delete(f"{base}/api/v1/me/consents/{consent['id']}", headers=mine)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert httpx.get(f"{base}/api/v1/me/consents", headers=mine).json()[0]["withdrawn_at"]


def test_client_tokens_and_scopes(base: str, dev_settings: Settings) -> None:
    client_id, token = _client(dev_settings, ["exchange:request"])
    allowed = httpx.get(f"{base}/probe/{ClientScope.EXCHANGE_REQUEST}", headers=_bearer(token))
    assert allowed.status_code == 200 and allowed.json() == {"client_id": client_id, "department": "ZJ"}
    lacking = httpx.get(f"{base}/probe/{ClientScope.CERTIFICATES_REVOKE}", headers=_bearer(token))
    assert lacking.status_code == 403 and lacking.json()["type"] == "/problems/forbidden-by-policy"
    assert 'error="insufficient_scope"' in lacking.headers["WWW-Authenticate"]
    for headers in ({}, _bearer(token + "x"), {"Authorization": f"Basic {token}"}):
        refused = httpx.get(f"{base}/probe/{ClientScope.EXCHANGE_REQUEST}", headers=headers)
        assert refused.status_code == 401 and refused.json()["type"] == "/problems/unauthenticated"
        assert token not in refused.text


def test_without_the_dev_idp_only_the_configured_provider_is_trusted(settings: Settings, tmp_path: Path) -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    key_file = tmp_path / "idp.pem"
    key_file.write_bytes(key.as_pem(private=False))
    production = dataclasses.replace(settings, dev_idp=False, idp_issuer="https://idp.city.example",
                                     idp_public_key_file=key_file)
    idp = DevIdentityProvider(signing_key=key, issuer="https://idp.city.example")
    dev = DevIdentityProvider.open(tmp_path / "dev-idp")
    app = create_app(production)
    with serving(app) as base:
        assert httpx.post(f"{base}/dev-idp/token", json={"name": ME[0], "id_number": ME[1]}).status_code == 404
        assert httpx.get(f"{base}/dev-idp/login").status_code == 404
        portal = httpx.get(f"{base}/portal").text  # a citizen is told where to go instead, not the API's docs
        assert "政务服务窗口" in portal and "/api/v1/docs" not in portal.split("<main")[1]
        good = httpx.get(f"{base}/api/v1/me/consents", headers=_bearer(idp.issue_dev_assertion(ME[1], ME[0])))
        assert good.status_code == 200, good.text
        foreign = httpx.get(f"{base}/api/v1/me/consents", headers=_bearer(dev.issue_dev_assertion(ME[1], ME[0])))
        assert foreign.status_code == 401
        spec = httpx.get(f"{base}/api/v1/openapi.json").json()
        assert "/dev-idp/token" not in spec["paths"]
        assert set(spec["components"]["securitySchemes"]) == {"clientToken", "citizenAssertion", "legalPersonAssertion"}
    app.extensions["mianzheng"].engine.dispose()


def test_dev_token_endpoint_rejects_a_bad_id_number(base: str) -> None:
    response = httpx.post(f"{base}/dev-idp/token", json={"name": "张三", "id_number": "110105194912310021"})
    assert response.status_code == 400 and response.json()["errors"][0]["pointer"] == "#/id_number"


