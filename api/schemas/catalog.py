"""Schemas of the published catalog: departments, proofs, matters, the city's constants,
versions, and the query parameters that filter them. The entries' views are described by the
catalog's own schemas of its source files, with what the views join."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache

import marshmallow as ma

from catalog import schemas as entries
from catalog.field_shapes import CODE_PATTERN
from catalog.model import Domain, Mode

_MODES = [m.value for m in Mode]
_DOMAINS = [d.value for d in Domain]
_CODE = entries.WholeMatch(CODE_PATTERN, error="must be an upper-case code such as NO_HOUSING")


def _view_of(entry: type[ma.Schema], *, name: str | None = None, described: Mapping[str, str] | None = None,
             **joined: ma.fields.Field) -> type[ma.Schema]:
    """The schema of the public view of a catalog entry (`api.catalog_views`): each member its
    source-file schema in `catalog.schemas` declares, with its type, vocabulary and pattern (a
    member optional there is null or empty in the view when not set), its entries' views in turn,
    and what the view joins (`joined`, which also replaces a member the view shows joined).
    `described` documents members; `name` names the view when it is not the entry's."""
    members = {member: _view_field(field) for member, field in entry._declared_fields.items()}
    for member, text in (described or {}).items():
        members[member].metadata = {**members[member].metadata, "description": text}
    return ma.Schema.from_dict({**members, **joined}, name=name or entry.__name__)


def _view_field(declared: ma.fields.Field, *, member: bool = True) -> ma.fields.Field:
    """A member of an entry as its view shows it (`member` False: an element of a list member)."""
    field = copy.deepcopy(declared)
    if member and not declared.required:
        field.allow_none = True
        field.validators = [check for check in field.validators if not isinstance(check, ma.validate.Length)]
    if isinstance(field, ma.fields.List):
        field.inner = _view_field(field.inner, member=False)
    if isinstance(field, ma.fields.Nested) and isinstance(field.nested, type):
        field.nested = _nested_view(field.nested)
    return field


@cache
def _nested_view(entry: type[ma.Schema]) -> type[ma.Schema]:
    """The view schema of a nested entry schema, made once (one OpenAPI component each)."""
    return _view_of(entry)

DepartmentSchema = _view_of(entries.DepartmentSchema, described={
    "legal_name_zh": "Full legal name, as on the department's seal",
    "uscc": "Unified social credit code (GB 32100)"})
DataItemSchema = _nested_view(entries.DataItemSchema)
VerificationSchema = _view_of(entries.VerificationSchema, described={
    "proof": "Code of the proof whose record is pulled from its source",
    "expression": "CEL over committed.<item>, record.<item> and city.<constant>, true when the commitment holds; "
                  "null: the committed fields must equal the record's"},
    proof_name_zh=ma.fields.String())
ProofSchema = _view_of(
    entries.ProofSchema,
    described={"department": "Code of the source department", "mode": "Default handling mode"},
    department_name_zh=ma.fields.String(),
    mode_zh=ma.fields.String(),
    verification=ma.fields.Nested(VerificationSchema, allow_none=True,
                                  metadata={"description": "Null: a commitment is checked on site"}),
    matters=ma.fields.List(ma.fields.String(), metadata={"description": "Matters that require this proof"}),
)
RequirementSchema = _view_of(
    entries.MatterProofSchema,
    name="RequirementSchema",
    described={"mode": "Effective mode for this matter", "fields": "Data items the matter may receive",
               "condition_zh": "When the proof is needed, for people",
               "when": "The same condition as CEL: the proof is required only when true",
               "commitment_fallback": "When the source cannot answer, the applicant may commit to the proof instead"},
    proof_name_zh=ma.fields.String(),
    mode_zh=ma.fields.String(),
    mode_overridden=ma.fields.Boolean(metadata={"description": "The matter overrides the proof's default mode"}),
    department=ma.fields.String(),
    department_name_zh=ma.fields.String(),
    legal_basis_zh=ma.fields.String(),
    scope_zh=ma.fields.String(),
)
RuleSchema = _view_of(entries.RuleSchema, described={"expression": "CEL expression (see docs/catalog.md)"},
                      outcome_if_false_zh=ma.fields.String())
ServiceSchema = _view_of(entries.ServiceSchema,
                         described={"department": "Code of the department that handles this part",
                                    "rules": "Codes of the matter's rules deciding this part"},
                         department_name_zh=ma.fields.String())
MatterSchema = _view_of(
    entries.MatterSchema,
    described={"consumers": "Departments that may ask (deny by default)",
               "recheck": "Null: no re-check"},
    domain_zh=ma.fields.String(),
    proofs=ma.fields.List(ma.fields.Nested(RequirementSchema)),
    rules=ma.fields.List(ma.fields.Nested(RuleSchema)),
    services=ma.fields.List(ma.fields.Nested(ServiceSchema),
                            metadata={"description": "A bundled matter's parts, one per department"}),
)
CityConstantSchema = _view_of(entries.CityConstantSchema)


class CatalogVersionSchema(ma.Schema):
    number = ma.fields.Integer()
    content_hash = ma.fields.String(metadata={"description": "SHA-256 of the canonical catalog document"})
    published_at = ma.fields.DateTime()
    published_by = ma.fields.String()
    note = ma.fields.String(allow_none=True)


class CatalogCountsSchema(ma.Schema):
    departments = ma.fields.Integer()
    proofs = ma.fields.Integer()
    matters = ma.fields.Integer()
    city_constants = ma.fields.Integer()


class CatalogSummarySchema(CatalogCountsSchema):
    version = ma.fields.Nested(CatalogVersionSchema)


class ValidationResultSchema(CatalogCountsSchema):
    valid = ma.fields.Boolean()
    content_hash = ma.fields.String()


class TextQuerySchema(ma.Schema):
    q = ma.fields.String(validate=ma.validate.Length(max=100), metadata={"description": "Free-text search"})


class ProofQuerySchema(TextQuerySchema):
    department = ma.fields.String(validate=_CODE, metadata={"description": "Source department code"})
    mode = ma.fields.String(validate=ma.validate.OneOf(_MODES))


class MatterQuerySchema(TextQuerySchema):
    domain = ma.fields.String(validate=ma.validate.OneOf(_DOMAINS))
    department = ma.fields.String(validate=_CODE,
                                  metadata={"description": "A department that may ask for the matter, or that holds one of its proofs"})
    mode = ma.fields.String(validate=ma.validate.OneOf(_MODES),
                            metadata={"description": "Matters handling at least one proof in this mode"})
    proof = ma.fields.String(validate=_CODE, metadata={"description": "Matters requiring this proof"})
