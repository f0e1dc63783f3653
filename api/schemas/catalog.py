"""Schemas of the published catalog: departments, proofs, matters, versions, and the
query parameters that filter them."""

from __future__ import annotations

import marshmallow as ma

from catalog.model import Domain, Mode, Outcome

_MODES = [m.value for m in Mode]
_DOMAINS = [d.value for d in Domain]
_CODE = ma.validate.Regexp(r"^[A-Z][A-Z0-9_]*$", error="must be an upper-case code such as NO_HOUSING")


class DepartmentSchema(ma.Schema):
    code = ma.fields.String(metadata={"example": "BDC"})
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    legal_name_zh = ma.fields.String(metadata={"description": "Full legal name, as on the department's seal"})
    uscc = ma.fields.String(metadata={"description": "Unified social credit code (GB 32100)"})


class DataItemSchema(ma.Schema):
    name = ma.fields.String()
    name_zh = ma.fields.String()
    type = ma.fields.String()
    values = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(),
                            metadata={"description": "Value codes and their Chinese labels (enums, lists)"})


class ProofSchema(ma.Schema):
    code = ma.fields.String(metadata={"example": "NO_HOUSING"})
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    department = ma.fields.String(metadata={"description": "Code of the source department"})
    department_name_zh = ma.fields.String()
    mode = ma.fields.String(metadata={"enum": _MODES, "description": "Default handling mode"})
    mode_zh = ma.fields.String()
    subject = ma.fields.String(metadata={"enum": ["person", "organisation"]})
    data_items = ma.fields.List(ma.fields.Nested(DataItemSchema))
    validity_days = ma.fields.Integer(allow_none=True)
    legal_basis_zh = ma.fields.String()
    commitment_text_zh = ma.fields.String(allow_none=True)
    matters = ma.fields.List(ma.fields.String(), metadata={"description": "Matters that require this proof"})


class RequirementSchema(ma.Schema):
    """A proof as one matter requires it, with its effective handling mode."""

    proof = ma.fields.String()
    proof_name_zh = ma.fields.String()
    mode = ma.fields.String(metadata={"enum": _MODES, "description": "Effective mode for this matter"})
    mode_zh = ma.fields.String()
    mode_overridden = ma.fields.Boolean(metadata={"description": "The matter overrides the proof's default mode"})
    department = ma.fields.String()
    department_name_zh = ma.fields.String()
    legal_basis_zh = ma.fields.String()
    fields = ma.fields.List(ma.fields.String(), metadata={"description": "Data items the matter may receive"})
    scope = ma.fields.String()
    scope_zh = ma.fields.String()
    condition_zh = ma.fields.String(allow_none=True)


class RuleSchema(ma.Schema):
    """An eligibility rule of a matter: a CEL expression over the fields it receives."""

    code = ma.fields.String(metadata={"example": "no_property"})
    name_zh = ma.fields.String()
    expression = ma.fields.String(metadata={"description": "CEL expression (see docs/catalog.md)"})
    outcome_if_false = ma.fields.String(metadata={"enum": [o.value for o in Outcome]})


class MatterSchema(ma.Schema):
    code = ma.fields.String(metadata={"example": "PUBLIC_RENTAL_HOUSING"})
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    domain = ma.fields.String(metadata={"enum": _DOMAINS})
    domain_zh = ma.fields.String()
    service_code = ma.fields.String(allow_none=True)
    legal_basis_zh = ma.fields.String()
    consent_required = ma.fields.Boolean()
    household = ma.fields.Boolean()
    consumers = ma.fields.List(ma.fields.String(), metadata={"description": "Departments that may ask (deny by default)"})
    rule_zh = ma.fields.String()
    proofs = ma.fields.List(ma.fields.Nested(RequirementSchema))
    rules = ma.fields.List(ma.fields.Nested(RuleSchema))


class CatalogVersionSchema(ma.Schema):
    number = ma.fields.Integer()
    content_hash = ma.fields.String(metadata={"description": "SHA-256 of the canonical catalog document"})
    published_at = ma.fields.DateTime()
    published_by = ma.fields.String()
    note = ma.fields.String(allow_none=True)


class CatalogSummarySchema(ma.Schema):
    version = ma.fields.Nested(CatalogVersionSchema)
    departments = ma.fields.Integer()
    proofs = ma.fields.Integer()
    matters = ma.fields.Integer()


class ValidationResultSchema(ma.Schema):
    valid = ma.fields.Boolean()
    content_hash = ma.fields.String()
    departments = ma.fields.Integer()
    proofs = ma.fields.Integer()
    matters = ma.fields.Integer()


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
