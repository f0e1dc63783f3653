"""Schemas of the published catalog: departments, proofs, matters, the city's constants,
versions, and the query parameters that filter them."""

from __future__ import annotations

import marshmallow as ma

from catalog.model import Domain, Mode, OptionType, Outcome

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


class VerificationSchema(ma.Schema):
    """How a commitment to a proof is checked afterwards (事后核查)."""

    proof = ma.fields.String(metadata={"description": "Code of the proof whose record is pulled from its source"})
    proof_name_zh = ma.fields.String()
    expression = ma.fields.String(
        allow_none=True,
        metadata={"description": "CEL over committed.<item>, record.<item> and city.<constant>, true when the "
                                 "commitment holds; null: the committed fields must equal the record's"})


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
    verification = ma.fields.Nested(VerificationSchema, allow_none=True,
                                    metadata={"description": "Null: a commitment is checked on site"})
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
    condition_zh = ma.fields.String(allow_none=True, metadata={"description": "When the proof is needed, for people"})
    when = ma.fields.String(allow_none=True,
                            metadata={"description": "The same condition as CEL: the proof is required only when true"})
    commitment_fallback = ma.fields.Boolean(
        metadata={"description": "When the source cannot answer, the applicant may commit to the proof instead"})


class MatterOptionSchema(ma.Schema):
    """A choice the applicant makes when applying, read by expressions as application.<name>."""

    name = ma.fields.String(metadata={"example": "priority_allocation"})
    name_zh = ma.fields.String()
    type = ma.fields.String(metadata={"enum": [t.value for t in OptionType]})
    default = ma.fields.Raw(metadata={"description": "A boolean, or one of `values` for an enum"})
    values = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(),
                            metadata={"description": "Enum only: value codes and their Chinese labels"})


class RuleSchema(ma.Schema):
    """An eligibility rule of a matter: a CEL expression over the fields it receives."""

    code = ma.fields.String(metadata={"example": "no_property"})
    name_zh = ma.fields.String()
    expression = ma.fields.String(metadata={"description": "CEL expression (see docs/catalog.md)"})
    outcome_if_false = ma.fields.String(metadata={"enum": [o.value for o in Outcome]})
    outcome_if_false_zh = ma.fields.String()


class PrioritySchema(ma.Schema):
    """A priority a matter grants when its CEL expression is true."""

    code = ma.fields.String(metadata={"example": "minimum_living_family"})
    name_zh = ma.fields.String()
    expression = ma.fields.String(metadata={"description": "CEL expression, read like a rule"})


class ServiceSchema(ma.Schema):
    """One department's part of a bundled matter (一件事)."""

    code = ma.fields.String(metadata={"example": "hukou_registration"})
    name_zh = ma.fields.String()
    department = ma.fields.String(metadata={"description": "Code of the department that handles this part"})
    department_name_zh = ma.fields.String()
    rules = ma.fields.List(ma.fields.String(),
                           metadata={"description": "Codes of the matter's rules deciding this part"})


class RecheckSchema(ma.Schema):
    """The periodic re-check (年度复核) of a matter's beneficiaries."""

    name_zh = ma.fields.String()
    rules = ma.fields.List(ma.fields.String(),
                           metadata={"description": "Codes of the matter's rules re-evaluated on fresh data"})


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
    options = ma.fields.List(ma.fields.Nested(MatterOptionSchema))
    proofs = ma.fields.List(ma.fields.Nested(RequirementSchema))
    rules = ma.fields.List(ma.fields.Nested(RuleSchema))
    priorities = ma.fields.List(ma.fields.Nested(PrioritySchema))
    services = ma.fields.List(ma.fields.Nested(ServiceSchema),
                              metadata={"description": "A bundled matter's parts, one per department"})
    recheck = ma.fields.Nested(RecheckSchema, allow_none=True, metadata={"description": "Null: no re-check"})


class CityConstantSchema(ma.Schema):
    """A threshold of the city that expressions read as city.<name>."""

    name = ma.fields.String(metadata={"example": "public_housing_income_line_monthly"})
    name_zh = ma.fields.String()
    value = ma.fields.Float()
    unit_zh = ma.fields.String(metadata={"example": "元/人·月"})


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
