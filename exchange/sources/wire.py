"""The connector contract over HTTP: the JSON of a query and of an answer, read and written
by both ends (the reference connector in api/connector_app.py and the exchange's HTTP
adapter). The OpenAPI description is in openapi.py.

    POST /v1/records/query   {"proof": "NO_HOUSING", "subject": {"id_number": "...", "name": "..."}}
    200  {"proof": "NO_HOUSING", "as_of": "2026-11-01T02:00:00+08:00", "record": {...}}

A proof about an organisation names its subject by `uscc` instead of `id_number`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.citizen_id import parse_id_number
from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from catalog.model import Catalog, Proof, Subject
from exchange.sources.contract import SourceAnswer, SourceProtocolError, checked_answer, department_proof
from exchange.sources.values import parse_offset_datetime

QUERY_PATH = "/v1/records/query"
OPENAPI_PATH = "/openapi.json"
NAME_MAX_LENGTH = 100


def subject_key(proof: Proof) -> str:
    """The key naming the subject of `proof` in a query: `id_number` or `uscc`."""
    return "uscc" if proof.subject is Subject.ORGANISATION else "id_number"


def query_document(proof: Proof, id_number: str, name: str | None) -> dict[str, Any]:
    """The JSON body of a query."""
    subject: dict[str, str] = {subject_key(proof): id_number}
    if name is not None:
        subject["name"] = name
    return {"proof": proof.code, "subject": subject}


@dataclass(frozen=True)
class Query:
    """A valid query: the proof, the normalised subject identifier and the optional name."""

    proof: Proof
    subject_id: str
    name: str | None


class InvalidQuery(ValueError):
    """A query body that breaks the contract; `errors` are (JSON pointer, detail) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{pointer}: {detail}" for pointer, detail in errors))
        self.errors = errors


def parse_query(body: Any, catalog: Catalog, department: str) -> Query:
    """Validate a query body for `department`'s connector; InvalidQuery lists every problem."""
    if not isinstance(body, dict):
        raise InvalidQuery([("#", "the body must be a JSON object")])
    errors = [(f"#/{key}", "unknown field") for key in body if key not in ("proof", "subject")]
    proof = _proof(body.get("proof"), catalog, department, errors)
    subject = body.get("subject")
    if not isinstance(subject, dict):
        errors.append(("#/subject", "required: an object with the subject's identifier and optional name"))
        raise InvalidQuery(errors)
    name = _name(subject.get("name"), errors)
    if proof is None:
        raise InvalidQuery(errors)
    key = subject_key(proof)
    errors += [(f"#/subject/{field}", "unknown field") for field in subject if field not in (key, "name")]
    subject_id = _identifier(proof, key, subject.get(key), errors)
    if errors or subject_id is None:
        raise InvalidQuery(errors)
    return Query(proof=proof, subject_id=subject_id, name=name)


def _proof(value: Any, catalog: Catalog, department: str, errors: list[tuple[str, str]]) -> Proof | None:
    if not isinstance(value, str):
        errors.append(("#/proof", "required: a proof code"))
        return None
    try:
        return department_proof(catalog, department, value)
    except ValueError as wrong:
        errors.append(("#/proof", f"{wrong}; this connector serves {department}"))
        return None


def _name(value: Any, errors: list[tuple[str, str]]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > NAME_MAX_LENGTH:
        errors.append(("#/subject/name", f"must be a non-empty string of at most {NAME_MAX_LENGTH} characters"))
        return None
    return value.strip()


def _identifier(proof: Proof, key: str, value: Any, errors: list[tuple[str, str]]) -> str | None:
    pointer = f"#/subject/{key}"
    if not isinstance(value, str):
        errors.append((pointer, f"required for proof {proof.code}: a string"))
        return None
    try:
        return parse_uscc(value).code if key == "uscc" else parse_id_number(value).number
    except InvalidIdentifier as invalid:
        errors.append((pointer, str(invalid)))
        return None


def answer_document(answer: SourceAnswer) -> dict[str, Any]:
    """The JSON body of a 200 answer."""
    return {"proof": answer.proof, "as_of": answer.as_of.isoformat(), "record": dict(answer.record)}


def parse_answer(department: str, proof: Proof, payload: Any, asked: str) -> SourceAnswer:
    """The answer in a 200 body to the query about `asked` (its ID number or USCC), or
    SourceProtocolError saying what is wrong with it."""
    if not isinstance(payload, dict) or set(payload) != {"proof", "as_of", "record"}:
        raise SourceProtocolError(department, "the answer must be an object with exactly proof, as_of and record")
    if payload["proof"] != proof.code:
        raise SourceProtocolError(department, f"asked for proof {proof.code}, got an answer for another proof")
    as_of = parse_offset_datetime(payload["as_of"]) if isinstance(payload["as_of"], str) else None
    if as_of is None:
        raise SourceProtocolError(department, "as_of must be an ISO 8601 datetime with a UTC offset")
    return checked_answer(department, proof, as_of, payload["record"], asked)
