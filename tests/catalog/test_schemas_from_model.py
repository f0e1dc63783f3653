"""The source files' schemas are made from the catalog's dataclasses: each entry is described
once, and a field declared on a dataclass is checked as its type, default and shape say."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from marshmallow import ValidationError

from catalog import field_shapes as shapes
from catalog import model, schemas
from catalog.field_shapes import Shape, shaped

ENTRY_SCHEMAS = {
    model.Department: schemas.DepartmentSchema, model.DataItem: schemas.DataItemSchema,
    model.Verification: schemas.VerificationSchema, model.Assertion: schemas.AssertionSchema,
    model.Proof: schemas.ProofSchema, model.MatterProof: schemas.MatterProofSchema, model.Rule: schemas.RuleSchema,
    model.MatterOption: schemas.MatterOptionSchema, model.Priority: schemas.PrioritySchema,
    model.Service: schemas.ServiceSchema, model.Recheck: schemas.RecheckSchema, model.Matter: schemas.MatterSchema,
    model.CityConstant: schemas.CityConstantSchema, model.LicenseUse: schemas.LicenseUseSchema,
    model.LicenseType: schemas.LicenseTypeSchema,
}


@pytest.mark.parametrize("kind", list(ENTRY_SCHEMAS), ids=lambda kind: kind.__name__)
def test_each_schema_checks_exactly_the_fields_of_its_dataclass(kind: type) -> None:
    schema = ENTRY_SCHEMAS[kind]
    assert list(schema._declared_fields) == [field.name for field in dataclasses.fields(kind)]
    for field in dataclasses.fields(kind):
        has_default = field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
        assert schema._declared_fields[field.name].required is not has_default, field.name


@dataclass(frozen=True)
class _Sample:
    code: str = shapes.code()
    title_zh: str
    size: int | None = shaped(Shape(minimum=1, maximum=9, range_error="between {min} and {max}",
                                    type_error="must be a whole number"))
    tags: tuple[str, ...] = shaped(Shape(pattern=shapes.NAME_PATTERN, at_least_one="list at least one tag"))
    active: bool = False
    kind: model.Mode | None = None


SampleSchema = schemas.fields_of(_Sample)


def _errors(document: dict[str, object]) -> dict[str, object]:
    with pytest.raises(ValidationError) as refused:
        SampleSchema().load(document)
    return refused.value.messages  # type: ignore[return-value]


def test_a_field_added_to_a_dataclass_is_checked_as_it_is_declared() -> None:
    good = {"code": "A_B", "title_zh": "样例", "size": None, "tags": ["x"], "kind": "commitment"}
    assert SampleSchema().load(good) == good
    assert _errors({"code": "ab", "title_zh": "", "size": 10, "tags": [], "active": "yes", "kind": "x"}) == {
        "code": ["'ab' does not match ^[A-Z][A-Z0-9_]*$"],
        "title_zh": ["must not be empty"],
        "size": ["between 1 and 9"],
        "tags": ["list at least one tag"],
        "active": ["must be true or false"],
        "kind": ["'x' is not one of: abolished, data_sharing, e_license, commitment, investigation, online_issue"],
    }
    assert _errors({"title_zh": "样例", "tags": ["Bad"], "extra": 1, "size": 1.5}) == {
        "code": ["required field is missing"],
        "tags": {0: ["'Bad' does not match ^[a-z][a-z0-9_]*$"]},
        "extra": ["unknown field"],
        "size": ["must be a whole number"],
    }
    assert _errors({**good, "kind": None}) == {"kind": ["must not be null"]}
