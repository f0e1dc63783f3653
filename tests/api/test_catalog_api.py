"""The catalog as a department system reads it over HTTP: lists, filters, single entries,
options, conditions, rules, services, re-checks, verifications and the city's constants, ETags,
and precise problems for unknown codes and bad filters."""

from __future__ import annotations

from dataclasses import asdict

import httpx
import pytest

from catalog.model import Catalog


@pytest.fixture
def client(live_server: str):
    with httpx.Client(base_url=live_server, timeout=10) as client:
        yield client


def test_summary_names_the_live_version(client: httpx.Client) -> None:
    body = client.get("/api/v1/catalog").json()
    assert body["version"]["number"] == 1
    assert body["version"]["published_by"] == "mianzheng init"
    assert len(body["version"]["content_hash"]) == 64
    assert body["departments"] >= 13 and body["proofs"] >= 29 and body["matters"] >= 14
    assert body["city_constants"] >= 4


def test_teacher_qualification_takes_a_commitment_for_no_criminal_record(client: httpx.Client) -> None:
    matter = client.get("/api/v1/catalog/matters/TEACHER_QUALIFICATION").json()
    requirement = next(r for r in matter["proofs"] if r["proof"] == "NO_CRIMINAL_RECORD")
    assert requirement["mode"] == "commitment"
    assert requirement["mode_zh"] == "告知承诺"
    assert requirement["mode_overridden"] is True
    assert client.get("/api/v1/catalog/proofs/NO_CRIMINAL_RECORD").json()["mode"] == "online_issue"


def test_public_rental_housing_receives_only_the_fields_it_needs(client: httpx.Client) -> None:
    matter = client.get("/api/v1/catalog/matters/PUBLIC_RENTAL_HOUSING").json()
    no_housing = next(r for r in matter["proofs"] if r["proof"] == "NO_HOUSING")
    all_items = {i["name"] for i in client.get("/api/v1/catalog/proofs/NO_HOUSING").json()["data_items"]}
    assert set(no_housing["fields"]) < all_items
    assert "has_registered_property" in no_housing["fields"]
    assert no_housing["department"] == "BDC"
    assert "ZJ" in matter["consumers"]


def test_public_rental_housing_publishes_its_options_conditions_and_recheck(
    client: httpx.Client, bundled: Catalog
) -> None:
    matter = client.get("/api/v1/catalog/matters/PUBLIC_RENTAL_HOUSING").json()
    expected = bundled.matters["PUBLIC_RENTAL_HOUSING"]
    option = next(o for o in matter["options"] if o["name"] == "priority_allocation")
    assert option["name_zh"] == "申请优先配租"
    assert (option["type"], option["default"]) == ("boolean", False)
    requirements = {r["proof"]: r for r in matter["proofs"]}
    single = requirements["SINGLE_DECLARATION"]
    assert single["when"] == expected.entry("SINGLE_DECLARATION").when
    assert single["condition_zh"] == expected.entry("SINGLE_DECLARATION").condition_zh
    assert requirements["MARITAL_STATUS"]["commitment_fallback"] is True
    assert requirements["NO_HOUSING"]["commitment_fallback"] is False
    assert requirements["NO_HOUSING"]["when"] is None
    income_rule = next(r for r in matter["rules"] if r["code"] == "income_below_line")
    assert income_rule["outcome_if_false"] == "not_eligible"
    assert income_rule["outcome_if_false_zh"] == "不符合条件"
    assert "city.public_housing_income_line_monthly" in income_rule["expression"]
    assert [p["code"] for p in matter["priorities"]] == [p.code for p in expected.priorities]
    assert matter["recheck"] == {"name_zh": "公租房年度复核", "rules": list(expected.recheck.rules)}
    assert matter["services"] == []


def test_newborn_birth_lists_each_departments_part(client: httpx.Client, bundled: Catalog) -> None:
    matter = client.get("/api/v1/catalog/matters/NEWBORN_BIRTH").json()
    expected = bundled.matters["NEWBORN_BIRTH"].services
    assert [(s["code"], s["name_zh"], s["department"], s["rules"]) for s in matter["services"]] == [
        (s.code, s.name_zh, s.department, list(s.rules)) for s in expected
    ]
    assert [s["department_name_zh"] for s in matter["services"]] == [
        bundled.departments[s.department].name_zh for s in expected
    ]
    assert matter["services"][0]["department_name_zh"] == "公安局"
    assert matter["recheck"] is None


def test_proofs_say_how_a_commitment_is_checked(client: httpx.Client, bundled: Catalog) -> None:
    income = client.get("/api/v1/catalog/proofs/INCOME").json()
    expected = bundled.proofs["INCOME"].verification
    assert income["verification"] == {
        "proof": "INCOME",
        "proof_name_zh": "收入证明（家庭经济状况）",
        "expression": expected.expression,
    }
    single = client.get("/api/v1/catalog/proofs/SINGLE_DECLARATION").json()["verification"]
    assert single["proof"] == "MARITAL_STATUS"
    assert single["proof_name_zh"] == bundled.proofs["MARITAL_STATUS"].name_zh
    marital = client.get("/api/v1/catalog/proofs/MARITAL_STATUS").json()["verification"]
    assert marital["expression"] is None
    assert client.get("/api/v1/catalog/proofs/NO_HOUSING").json()["verification"] is None


def test_a_proof_publishes_every_member_of_the_catalog_entry(client: httpx.Client, bundled: Catalog) -> None:
    """The view shows what the catalog says of a proof, members it leaves unset too: the fact its
    title asserts, that it states a search, and which items are not printed."""
    proof = client.get("/api/v1/catalog/proofs/NO_HOUSING").json()
    asserts = bundled.proofs["NO_HOUSING"].asserts
    assert asserts is not None and proof["asserts"] == asdict(asserts)
    assert proof["as_of_search"] is True and proof["issued_to_subject"] is True
    assert [item["name"] for item in proof["data_items"] if not item["printed"]] == ["search_purpose", "searched_at"]
    assert proof["commitment_text_zh"] is None
    assert client.get("/api/v1/catalog/proofs/INCOME").json()["asserts"] is None


def test_city_constants_are_public(client: httpx.Client, bundled: Catalog) -> None:
    response = client.get("/api/v1/catalog/city")
    assert response.status_code == 200
    assert response.headers["etag"]
    constants = response.json()
    assert constants == [asdict(c) for c in bundled.city.values()]
    line = next(c for c in constants if c["name"] == "public_housing_income_line_monthly")
    assert (line["name_zh"], line["value"], line["unit_zh"]) == ("公租房申请家庭人均月收入线", 3000, "元/人·月")
    assert client.get("/api/v1/catalog").json()["city_constants"] == len(bundled.city)


def test_proofs_filter_by_department_and_mode(client: httpx.Client) -> None:
    proofs = client.get("/api/v1/catalog/proofs", params={"department": "GA"}).json()
    assert proofs and {p["department"] for p in proofs} == {"GA"}
    online = client.get("/api/v1/catalog/proofs", params={"mode": "online_issue"}).json()
    assert {"NO_HOUSING", "NO_CRIMINAL_RECORD"} <= {p["code"] for p in online}
    assert {p["mode"] for p in online} == {"online_issue"}


def test_matters_filter_by_domain_and_proof(client: httpx.Client) -> None:
    housing = client.get("/api/v1/catalog/matters", params={"domain": "housing"}).json()
    assert "PUBLIC_RENTAL_HOUSING" in {m["code"] for m in housing}
    assert {m["domain"] for m in housing} == {"housing"}
    with_proof = client.get("/api/v1/catalog/matters", params={"proof": "NO_CRIMINAL_RECORD"}).json()
    assert with_proof and all(any(r["proof"] == "NO_CRIMINAL_RECORD" for r in m["proofs"]) for m in with_proof)


def test_text_search_finds_chinese_names(client: httpx.Client) -> None:
    found = client.get("/api/v1/catalog/proofs", params={"q": "无房"}).json()
    assert [p["code"] for p in found] == ["NO_HOUSING"]


def test_unknown_code_is_a_not_found_problem(client: httpx.Client) -> None:
    response = client.get("/api/v1/catalog/proofs/NO_SUCH_PROOF")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/not-found"
    assert "NO_SUCH_PROOF" in body["detail"]
    assert body["instance"] == "/api/v1/catalog/proofs/NO_SUCH_PROOF"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [({"mode": "paper"}, "mode"), ({"department": "XX"}, "department"), ({"department": "bad code"}, "department")],
)
def test_a_bad_filter_names_the_parameter(client: httpx.Client, params: dict[str, str], parameter: str) -> None:
    response = client.get("/api/v1/catalog/proofs", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "/problems/invalid-request"
    assert [e["parameter"] for e in body["errors"]] == [parameter]


def test_etag_lets_clients_poll_cheaply(client: httpx.Client) -> None:
    first = client.get("/api/v1/catalog/matters")
    etag = first.headers["etag"]
    again = client.get("/api/v1/catalog/matters", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_an_etag_held_from_before_a_rollback_is_not_current(client: httpx.Client, settings) -> None:  # type: ignore[no-untyped-def]
    """Publishing version 1's content again makes version 3, with its own number, time and note:
    a client holding version 1's ETag gets the new summary, not a 304."""
    from api.database import standalone_session
    from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog
    from exchange.operations import Actor, publish_recorded

    first = client.get("/api/v1/catalog")
    bundled = load_catalog(bundled_catalog_path())
    changed = bundled.to_document()
    changed["departments"][0]["name_zh"] += "（更名）"
    for catalog, note in ((catalog_from_document(changed), "更名"), (bundled, "回退")):
        with standalone_session(settings.database_url) as session:
            publish_recorded(session, catalog, "目录管理员", note, Actor())
    again = client.get("/api/v1/catalog", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200 and again.json()["version"]["note"] == "回退", again.status_code


@pytest.mark.parametrize("path, parameter", [("/api/v1/catalog/departments", "department"),
                                             ("/api/v1/catalog/proofs", "foo"), ("/api/v1/catalog/matters", "modes")])
def test_a_mistyped_filter_is_named_not_ignored(client: httpx.Client, path: str, parameter: str) -> None:
    """A filter the endpoint does not have would otherwise answer the whole, unfiltered list,
    which looks like a correct answer."""
    response = client.get(path, params={parameter: "ZJ"})
    assert response.status_code == 400 and [e["parameter"] for e in response.json()["errors"]] == [parameter]

