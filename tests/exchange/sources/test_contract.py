"""The connector contract: query and answer JSON, value checks, the OpenAPI document (valid,
and the one docs/connectors.md shows)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from catalog.model import Catalog
from exchange.sources.contract import SourceProtocolError, department_proof, pulled_proofs
from exchange.sources.openapi import connector_openapi
from exchange.sources.wire import InvalidQuery, parse_answer, parse_query, query_document

DOCS = Path(__file__).resolve().parents[3] / "docs" / "connectors.md"
ID_NUMBER = "330702198507149853"


def test_pulled_proofs_are_those_some_use_pulls(catalog: Catalog) -> None:
    codes = {proof.code for proof in pulled_proofs(catalog)}
    assert {"NO_HOUSING", "NO_CRIMINAL_RECORD", "TAX_PAYMENT", "BUSINESS_LICENSE", "VACCINATION"} <= codes
    assert "INCOME" in codes  # commitments to it are verified against the household economic check
    assert not codes & {"SINGLE_DECLARATION", "ALIVE_PROOF", "COMMUNITY_INCOME", "GUARDIANSHIP"}


def test_a_query_round_trips(catalog: Catalog) -> None:
    proof = catalog.proofs["NO_HOUSING"]
    query = parse_query(query_document(proof, ID_NUMBER, " 马强 "), catalog, "BDC")
    assert (query.proof, query.subject_id, query.name) == (proof, ID_NUMBER, "马强")
    licence = catalog.proofs["BUSINESS_LICENSE"]
    assert query_document(licence, "91330782MA2EXAMPLE", None) == {"proof": "BUSINESS_LICENSE", "subject": {"uscc": "91330782MA2EXAMPLE"}}


@pytest.mark.parametrize(
    ("body", "pointers"),
    [
        ([], ["#"]),
        ({"proof": "NO_HOUSING"}, ["#/subject"]),
        ({"proof": "MARITAL_STATUS", "subject": {"id_number": ID_NUMBER}}, ["#/proof"]),
        ({"proof": "NO_HOUSING", "subject": {"id_number": ID_NUMBER[:-1] + "4"}}, ["#/subject/id_number"]),
        ({"proof": "NO_HOUSING", "subject": {"uscc": "x"}, "extra": 1}, ["#/extra", "#/subject/uscc", "#/subject/id_number"]),
        ({"proof": "NO_HOUSING", "subject": {"id_number": ID_NUMBER, "name": ""}}, ["#/subject/name"]),
    ],
)
def test_a_bad_query_names_every_bad_field(catalog: Catalog, body: object, pointers: list[str]) -> None:
    with pytest.raises(InvalidQuery) as raised:
        parse_query(body, catalog, "BDC")
    assert [pointer for pointer, _detail in raised.value.errors] == pointers
    assert ID_NUMBER not in str(raised.value)


def _answer(catalog: Catalog, **changes: object) -> dict[str, object]:
    record = {"full_name": "马强", "id_number": ID_NUMBER, "search_scope_region": "330700", "has_registered_property": False,
              "property_count": 0, "search_purpose": "核验", "search_no": "1", "searched_at": "2026-11-01T02:00:00+08:00"}
    return {"proof": "NO_HOUSING", "as_of": "2026-11-01T02:00:00+08:00", "record": record, **changes}


def test_a_valid_answer_is_read(catalog: Catalog) -> None:
    answer = parse_answer("BDC", catalog.proofs["NO_HOUSING"], _answer(catalog), ID_NUMBER)
    assert answer.as_of == datetime.fromisoformat("2026-11-01T02:00:00+08:00")
    assert answer.record["has_registered_property"] is False


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"proof": "NO_CRIMINAL_RECORD"}, "another proof"),
        ({"as_of": "2026-11-01T02:00:00"}, "as_of"),
        ({"record": {"full_name": "马强"}}, "id_number: missing"),
        ({"extra": 1}, "exactly proof, as_of and record"),
    ],
)
def test_a_wrong_answer_is_a_protocol_error(catalog: Catalog, changes: dict[str, object], reason: str) -> None:
    with pytest.raises(SourceProtocolError, match=reason):
        parse_answer("BDC", catalog.proofs["NO_HOUSING"], _answer(catalog, **changes), ID_NUMBER)


@pytest.mark.parametrize(
    ("item", "value", "reason"),
    [
        ("property_count", True, "integer"),
        ("has_registered_property", "false", "true or false"),
        ("searched_at", "2026-11-01", "UTC offset"),
        ("search_scope_region", "000000", "region code"),
        ("id_number", ID_NUMBER.lower()[:-1] + "4", "check character"),
    ],
)
def test_values_are_checked_by_item_type(catalog: Catalog, item: str, value: object, reason: str) -> None:
    payload = _answer(catalog)
    payload["record"][item] = value  # type: ignore[index]
    with pytest.raises(SourceProtocolError, match=reason) as raised:
        parse_answer("BDC", catalog.proofs["NO_HOUSING"], payload, ID_NUMBER)
    assert ID_NUMBER[:10] not in str(raised.value)


def test_department_proof_refuses_another_departments_proof(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="held by MZ"):
        department_proof(catalog, "BDC", "MARITAL_STATUS")


def test_the_openapi_document_is_valid_and_documented() -> None:
    document = connector_openapi()
    validate(document)
    shown = re.search(r"```json\n(\{\n  \"openapi\".*?)\n```", DOCS.read_text(encoding="utf-8"), re.S)
    assert shown is not None, "docs/connectors.md must show the OpenAPI document"
    assert json.loads(shown.group(1)) == document
