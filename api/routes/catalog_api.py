"""Read access to the live catalog for everyone (`/api/v1/catalog/...`): departments, proofs,
matters and the city's constants; and a dry-run
validator that the catalog administrator's systems (scope catalog:admin) can post a catalog
document to.

Responses carry the live version's number and content hash as ETag, so clients can poll
cheaply; a rollback (old content published again) is a new version, with its own ETag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import marshmallow as ma
from flask import Response, g, request

from catalog.views import (
    city_constant_view,
    department_view,
    matches,
    matter_selected,
    matter_view,
    proof_selected,
    proof_view,
)
from api.catalog_publication import publication_problems
from api.live_catalog import LiveCatalog, live_catalog
from api.auth import CLIENT_SECURITY, client_first
from api.domain_errors import known_code
from api.openapi import Blueprint, before_parsing
from api.presenters import NOT_MODIFIED
from api.rate_limit import limit_catalog_validation
from api.problems import Problem
from api.runtime import db, runtime
from api.schemas.catalog import (
    CatalogSummarySchema,
    CatalogVersionSchema,
    CityConstantSchema,
    DepartmentSchema,
    MatterQuerySchema,
    MatterSchema,
    ProofQuerySchema,
    ProofSchema,
    TextQuerySchema,
    ValidationResultSchema,
)
from catalog.errors import CatalogInvalid
from catalog.loading import catalog_from_document
from catalog.model import Catalog
from catalog.versions import list_versions
from exchange.clients import ClientScope

T = TypeVar("T")

blp = Blueprint("catalog", __name__, url_prefix="/api/v1/catalog",
                description="The published catalog of proofs, matters and source departments")


def _live() -> LiveCatalog:
    live = live_catalog()
    g.catalog_etag = f"{live.version.number}.{live.version.content_hash}"
    return live


@blp.after_request
def _etag(response: Response) -> Response:
    etag = g.pop("catalog_etag", None)
    if etag and response.status_code == 200:
        response.set_etag(etag, weak=True)
        response.make_conditional(request)
    return response


def _found(entries: Mapping[str, T], kind: str, code: str) -> T:
    """The entry with `code`, or a not-found problem naming what was asked for."""
    if code not in entries:
        raise Problem("not-found", f"The live catalog has no {kind} {code!r}.")
    return entries[code]


def _counts(catalog: Catalog) -> dict[str, int]:
    """How many entries of each kind a catalog holds."""
    return {
        "departments": len(catalog.departments),
        "proofs": len(catalog.proofs),
        "matters": len(catalog.matters),
        "city_constants": len(catalog.city),
    }


@blp.route("")
@blp.doc(responses=NOT_MODIFIED)
@blp.response(200, CatalogSummarySchema)
def summary() -> dict[str, Any]:
    """The live catalog version and how many entries it holds."""
    live = _live()
    return {"version": live.version, **_counts(live.catalog)}


@blp.route("/versions")
@blp.response(200, CatalogVersionSchema(many=True))
def versions() -> list[Any]:
    """Every published catalog version, newest (live) first."""
    return list_versions(db())


@blp.route("/departments")
@blp.doc(responses=NOT_MODIFIED)
@blp.arguments(TextQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, DepartmentSchema(many=True))
def departments(args: dict[str, str]) -> list[dict[str, Any]]:
    """Departments, optionally searched by text."""
    views = [department_view(d) for d in _live().catalog.departments.values()]
    return [v for v in views if matches(v, args.get("q", ""))]


@blp.route("/departments/<code>")
@blp.doc(responses=NOT_MODIFIED)
@blp.response(200, DepartmentSchema)
def department(code: str) -> dict[str, Any]:
    """One department."""
    return department_view(_found(_live().catalog.departments, "department", code))


@blp.route("/proofs")
@blp.doc(responses=NOT_MODIFIED)
@blp.arguments(ProofQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, ProofSchema(many=True))
def proofs(args: dict[str, str]) -> list[dict[str, Any]]:
    """Proofs, filtered by source department, default mode and text."""
    catalog = _live().catalog
    known_code(catalog.departments, args.get("department"), "department")
    views = [proof_view(catalog, p) for p in catalog.proofs.values()]
    return [v for v in views if proof_selected(v, args)]


@blp.route("/proofs/<code>")
@blp.doc(responses=NOT_MODIFIED)
@blp.response(200, ProofSchema)
def proof(code: str) -> dict[str, Any]:
    """One proof with its data items, source department and legal basis."""
    catalog = _live().catalog
    return proof_view(catalog, _found(catalog.proofs, "proof", code))


@blp.route("/matters")
@blp.doc(responses=NOT_MODIFIED)
@blp.arguments(MatterQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, MatterSchema(many=True))
def matters(args: dict[str, str]) -> list[dict[str, Any]]:
    """Matters, filtered by domain, department (consumer or source), mode, proof and text."""
    catalog = _live().catalog
    known_code(catalog.departments, args.get("department"), "department")
    known_code(catalog.proofs, args.get("proof"), "proof")
    views = [matter_view(catalog, m) for m in catalog.matters.values()]
    return [v for v in views if matter_selected(v, args)]


@blp.route("/matters/<code>")
@blp.doc(responses=NOT_MODIFIED)
@blp.response(200, MatterSchema)
def matter(code: str) -> dict[str, Any]:
    """One matter with every proof it requires and how each is handled."""
    catalog = _live().catalog
    return matter_view(catalog, _found(catalog.matters, "matter", code))


@blp.route("/city")
@blp.doc(responses=NOT_MODIFIED)
@blp.response(200, CityConstantSchema(many=True))
def city() -> list[dict[str, Any]]:
    """The city's constants (thresholds and tolerances) that expressions read as city.<name>."""
    return [city_constant_view(c) for c in _live().catalog.city.values()]


class CatalogDocumentSchema(ma.Schema):
    """A whole catalog document, as `mianzheng catalog publish` reads it."""

    class Meta:
        unknown = ma.INCLUDE

    departments = ma.fields.List(ma.fields.Dict(), required=True)
    proofs = ma.fields.List(ma.fields.Dict(), required=True)
    matters = ma.fields.List(ma.fields.Dict(), required=True)
    city = ma.fields.List(ma.fields.Dict(), metadata={"description": "The city's constants (optional)"})


@blp.route("/validation", methods=["POST"])
@client_first(ClientScope.CATALOG_ADMIN)
@before_parsing(limit_catalog_validation)
@blp.arguments(CatalogDocumentSchema)
@blp.response(200, ValidationResultSchema)
@blp.alt_response(401, description="No or invalid client token")
@blp.alt_response(403, description="The client lacks the scope catalog:admin")
@blp.alt_response(429, description="rate-limited, with Retry-After")
@blp.doc(security=CLIENT_SECURITY)
def validate(document: dict[str, Any]) -> dict[str, Any]:
    """Validate a catalog document without publishing it; 400 lists every problem.

    For the catalog administrator's systems only (a client token with the scope catalog:admin),
    and rate-limited per client: validation parses and checks every expression of the document.
    """
    try:
        catalog = catalog_from_document(document)
        problems = publication_problems(catalog, runtime().settings.exchange_department)  # as publishing checks
    except CatalogInvalid as invalid:
        problems = list(invalid.problems)
    if problems:
        errors = [{"file": p.file, "entry": p.entry, "field": p.field, "detail": p.message} for p in problems]
        raise Problem("invalid-request", f"The catalog has {len(errors)} problem(s).", errors=errors)
    return {"valid": True, "content_hash": catalog.content_hash(), **_counts(catalog)}


