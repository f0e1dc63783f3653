"""Marshmallow schemas of the catalog's source files, one per kind of entry.

Each schema checks one entry on its own: required fields, types (strict: YAML `yes` is not a
boolean here, `30.0` is not an integer), vocabularies, code patterns, unknown keys, and the
rules that need nothing outside the entry. Rules that relate entries to each other (unknown
department, field not in the proof, duplicate codes) live in `catalog.references`.

`load` returns the entry as a plain dict in the document format of `Catalog.to_document`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from enum import Enum
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from catalog.model import Domain, ItemType, Mode, OptionType, Outcome, Scope, Subject, ValidityRule
from catalog.rules import expression_limit_problem

CODE_PATTERN = r"^[A-Z][A-Z0-9_]*$"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
SERVICE_CODE_PATTERN = r"^[0-9A-Z-]{10,20}$"
LICENSE_TYPE_CODE_PATTERN = r"^2[0-9]{3}$"

_MESSAGES = {"required": "required field is missing", "null": "must not be null"}


class _StrictBoolean(fields.Boolean):
    """Only true and false (marshmallow's Boolean also takes 1, "yes", "on", ...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class _StrictInteger(fields.Integer):
    """Only integers, and not booleans (which Python counts as integers)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return value


class _StrictNumber(fields.Float):
    """Only finite integers and decimals, and not booleans; loaded as a float."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.make_error("invalid")
        return float(value)


def _text(*, required: bool = True) -> fields.String:
    return fields.String(
        required=required,
        validate=validate.Length(min=1, error="must not be empty"),
        error_messages={**_MESSAGES, "invalid": "must be a string"},
    )


def _expression(*, required: bool = True) -> fields.String:
    """A CEL expression, within `catalog.rules`' limits; what it reads is checked there, after parsing."""
    return fields.String(
        required=required,
        validate=[validate.Length(min=1, error="must not be empty"), _within_expression_limits],
        error_messages={**_MESSAGES, "invalid": "must be a string"},
    )


def _within_expression_limits(expression: str) -> None:
    problem = expression_limit_problem(expression)
    if problem is not None:
        raise ValidationError(problem)


def _pattern(pattern: str, *, required: bool = True) -> fields.String:
    return fields.String(
        required=required,
        validate=validate.Regexp(pattern, error="{input!r} does not match {regex}"),
        error_messages={**_MESSAGES, "invalid": "must be a string"},
    )


def _choice(vocabulary: type[Enum], *, required: bool = True) -> fields.String:
    values = [member.value for member in vocabulary]
    return fields.String(
        required=required,
        validate=validate.OneOf(values, error="{input!r} is not one of: {choices}"),
        error_messages={**_MESSAGES, "invalid": "must be a string"},
    )


def _flag(*, required: bool = True) -> _StrictBoolean:
    return _StrictBoolean(required=required, error_messages={**_MESSAGES, "invalid": "must be true or false"})


def _list(item: fields.Field, *, required: bool = True, **kwargs: Any) -> fields.List:
    return fields.List(item, required=required, error_messages={**_MESSAGES, "invalid": "must be a list"}, **kwargs)


def _nested(schema: type[Schema]) -> fields.Nested:
    return fields.Nested(schema, error_messages={**_MESSAGES, "type": "must be a mapping"})


def _labels() -> fields.Dict:
    """Value codes mapped to their Chinese labels (an enum's or list's vocabulary)."""
    return fields.Dict(
        keys=_pattern(NAME_PATTERN),
        values=_text(),
        validate=validate.Length(min=1, error="must not be empty"),
        error_messages={**_MESSAGES, "invalid": "must be a mapping of value codes to Chinese labels"},
    )


def _rule_codes(*, at_least_one: bool = False) -> fields.List:
    """A list of a matter's rule codes, none repeated (whether they are its rules is checked by
    `MatterSchema`)."""

    def once(codes: list[str]) -> None:
        if at_least_one and not codes:
            raise ValidationError("list at least one rule")
        repeated = _duplicates(codes)
        if repeated:
            raise ValidationError({i: [f"rule {code!r} is listed twice"] for i, code in repeated.items()})

    return _list(_pattern(NAME_PATTERN), validate=once)


def _duplicates(values: Iterable[str]) -> dict[int, str]:
    """Index -> value of every repeated value after its first occurrence."""
    seen: Counter[str] = Counter()
    repeated = {}
    for index, value in enumerate(values):
        if seen[value]:
            repeated[index] = value
        seen[value] += 1
    return repeated


def _validate_uscc(value: str) -> None:
    try:
        parsed = parse_uscc(value)
    except InvalidIdentifier as error:
        raise ValidationError(str(error)) from None
    if parsed.code != value:
        raise ValidationError("write the credit code in upper case without spaces")


class _EntrySchema(Schema):
    error_messages = {"unknown": "unknown field", "type": "must be a mapping"}

    class Meta:
        unknown = RAISE


class DepartmentSchema(_EntrySchema):
    """An entry of departments.yaml."""

    code = _pattern(CODE_PATTERN)
    name_zh = _text()
    name_en = _text()
    legal_name_zh = _text()
    uscc = fields.String(
        required=True, validate=_validate_uscc, error_messages={**_MESSAGES, "invalid": "must be a string"}
    )


class DataItemSchema(_EntrySchema):
    """A data item of a proof."""

    name = _pattern(NAME_PATTERN)
    name_zh = _text()
    type = _choice(ItemType)
    values = _labels()
    printed = _flag(required=False)

    @validates_schema(skip_on_field_errors=False)
    def _values_match_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        kind = data.get("type")
        if kind == ItemType.ENUM and "values" not in data:
            raise ValidationError("an enum item needs its values", field_name="values")
        if kind not in (None, ItemType.ENUM, ItemType.LIST) and "values" in data:
            raise ValidationError(f"only enum and list items take values, this one is {kind}", field_name="values")


class VerificationSchema(_EntrySchema):
    """How a commitment to a proof is checked afterwards; the expression is checked in `catalog.rules`."""

    proof = _pattern(CODE_PATTERN)
    expression = _expression(required=False)


class _FactValue(fields.Field):
    """The value a data item must have for a proof's title to hold: true/false or an enum code."""

    default_error_messages = {"invalid": "must be true, false or a value code"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool | str:
        if isinstance(value, bool) or (isinstance(value, str) and value):
            return value
        raise self.make_error("invalid")


class AssertionSchema(_EntrySchema):
    """The fact a proof's title asserts (无房: no property registered); checked against the
    proof's data items in `catalog.references`."""

    item = _pattern(NAME_PATTERN)
    value = _FactValue(required=True, error_messages=_MESSAGES)
    refusal_zh = _text()
    alternative = _pattern(CODE_PATTERN, required=False)


class ProofSchema(_EntrySchema):
    """An entry of proofs.yaml."""

    code = _pattern(CODE_PATTERN)
    name_zh = _text()
    name_en = _text()
    department = _pattern(CODE_PATTERN)
    mode = _choice(Mode)
    subject = _choice(Subject)
    data_items = _list(_nested(DataItemSchema))
    validity_days = _StrictInteger(
        required=True,
        allow_none=True,
        validate=validate.Range(min=1, error="must be at least {min} (or null)"),
        error_messages={**_MESSAGES, "invalid": "must be a whole number of days or null"},
    )
    legal_basis_zh = _text()
    commitment_text_zh = _text(required=False)
    verification = _nested(VerificationSchema)
    asserts = _nested(AssertionSchema)
    as_of_search = _flag(required=False)
    issued_to_subject = _flag(required=False)

    @validates_schema(skip_on_field_errors=False)
    def _rules_of_the_mode(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        items = data.get("data_items", [])
        if data.get("mode") == Mode.ABOLISHED and items:
            errors["data_items"] = ["an abolished proof has no data items"]
        if data.get("mode") == Mode.COMMITMENT and "commitment_text_zh" not in data:
            errors["commitment_text_zh"] = ["required because the mode is commitment"]
        if "verification" in data and "commitment_text_zh" not in data and "commitment_text_zh" not in errors:
            errors["verification"] = ["only a proof with commitment_text_zh can be committed to, and so verified"]
        if "asserts" in data and data.get("as_of_search") is not True:
            errors["as_of_search"] = ["must be true: a fact asserted from a search holds only as of the search"]
        repeated = _duplicates(item["name"] for item in items if "name" in item)
        if repeated and "data_items" not in errors:
            errors["data_items"] = {i: {"name": [f"duplicate data item {name!r}"]} for i, name in repeated.items()}
        if errors:
            raise ValidationError(errors)


class MatterProofSchema(_EntrySchema):
    """A proof as a matter requires it."""

    proof = _pattern(CODE_PATTERN)
    mode = _choice(Mode, required=False)
    fields = _list(_pattern(NAME_PATTERN))
    scope = _choice(Scope)
    condition_zh = _text(required=False)
    when = _expression(required=False)
    commitment_fallback = _flag(required=False)

    @validates_schema(skip_on_field_errors=False)
    def _fields_once(self, data: dict[str, Any], **kwargs: Any) -> None:
        repeated = _duplicates(data.get("fields", []))
        if repeated:
            raise ValidationError({"fields": {i: [f"duplicate field {name!r}"] for i, name in repeated.items()}})


class RuleSchema(_EntrySchema):
    """An eligibility rule of a matter; its expression is checked in `catalog.rules`."""

    code = _pattern(NAME_PATTERN)
    name_zh = _text()
    expression = _expression()
    outcome_if_false = _choice(Outcome)


class MatterOptionSchema(_EntrySchema):
    """A choice the applicant makes when applying a matter."""

    name = _pattern(NAME_PATTERN)
    name_zh = _text()
    type = _choice(OptionType)
    default = fields.Raw(required=True, error_messages=_MESSAGES)
    values = _labels()

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _default_fits_the_type(self, data: dict[str, Any], original: dict[str, Any], **kwargs: Any) -> None:
        """Values for an enum only, and a default of the type (a broken `values` is reported once)."""
        kind, default, values = data.get("type"), data.get("default"), data.get("values")
        errors: dict[str, list[str]] = {}
        if kind == OptionType.BOOLEAN:
            if "values" in original:
                errors["values"] = ["only enum options take values"]
            if "default" in data and not isinstance(default, bool):
                errors["default"] = ["must be true or false for a boolean option"]
        if kind == OptionType.ENUM:
            if "values" not in original:
                errors["values"] = ["an enum option needs its values"]
            elif values is not None and "default" in data and not (isinstance(default, str) and default in values):
                errors["default"] = [f"{default!r} is not one of the values: {', '.join(values)}"]
        if errors:
            raise ValidationError(errors)


class PrioritySchema(_EntrySchema):
    """A priority a matter grants; its expression is checked in `catalog.rules`."""

    code = _pattern(NAME_PATTERN)
    name_zh = _text()
    expression = _expression()


class ServiceSchema(_EntrySchema):
    """One department's part of a bundled matter."""

    code = _pattern(NAME_PATTERN)
    name_zh = _text()
    department = _pattern(CODE_PATTERN)
    rules = _rule_codes()


class RecheckSchema(_EntrySchema):
    """The periodic re-check of a matter's beneficiaries."""

    name_zh = _text()
    rules = _rule_codes(at_least_one=True)


class MatterSchema(_EntrySchema):
    """An entry of matters.yaml."""

    code = _pattern(CODE_PATTERN)
    name_zh = _text()
    name_en = _text()
    domain = _choice(Domain)
    service_code = _pattern(SERVICE_CODE_PATTERN, required=False)
    legal_basis_zh = _text()
    consent_required = _flag()
    household = _flag()
    consumers = _list(_pattern(CODE_PATTERN))
    rule_zh = _text()
    proofs = _list(_nested(MatterProofSchema), validate=validate.Length(min=1, error="list at least one proof"))
    rules = _list(_nested(RuleSchema), required=False)
    options = _list(_nested(MatterOptionSchema), required=False)
    priorities = _list(_nested(PrioritySchema), required=False)
    services = _list(_nested(ServiceSchema), required=False)
    recheck = _nested(RecheckSchema)

    @validates_schema(skip_on_field_errors=False)
    def _entries_consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        repeated = _duplicates(data.get("consumers", []))
        if repeated:
            errors["consumers"] = {i: [f"duplicate consumer {code!r}"] for i, code in repeated.items()}
        entries = data.get("proofs", [])
        proof_errors: dict[int, dict[str, list[str]]] = {}
        for i, code in _duplicates(entry.get("proof", "") for entry in entries).items():
            if code:
                proof_errors[i] = {"proof": [f"proof {code} is listed twice"]}
        if data.get("household") is False:
            household_scopes = {scope.value for scope in Scope if scope.reaches_household}
            for i, entry in enumerate(entries):
                if entry.get("scope") in household_scopes:
                    proof_errors.setdefault(i, {})["scope"] = [f"scope {entry['scope']} needs household: true"]
        if proof_errors:
            errors["proofs"] = proof_errors
        for key, name, what in (
            ("rules", "code", "rule code"),
            ("options", "name", "option"),
            ("priorities", "code", "priority code"),
            ("services", "code", "service code"),
        ):
            repeated = _duplicates(entry.get(name, "") for entry in data.get(key, []))
            if any(repeated.values()):
                errors[key] = {i: {name: [f"duplicate {what} {code!r}"]} for i, code in repeated.items() if code}
        if errors:
            raise ValidationError(errors)

    @validates_schema(skip_on_field_errors=False)
    def _services_and_recheck_name_its_rules(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Each service belongs to a consumer and is decided by rules of the matter, each rule
        deciding at most one service; the re-check re-evaluates rules of the matter."""
        rule_codes = {rule.get("code") for rule in data.get("rules", [])}
        consumers = data.get("consumers", [])
        errors: dict[str, Any] = {}
        decides: dict[str, str] = {}
        for i, service in enumerate(data.get("services", [])):
            service_errors: dict[str, Any] = {}
            department = service.get("department")
            if department is not None and department not in consumers:
                service_errors["department"] = [f"{department!r} is not a consumer of this matter"]
            rule_errors: dict[int, list[str]] = {}
            for j, code in enumerate(service.get("rules", [])):
                if code not in rule_codes:
                    rule_errors[j] = [f"unknown rule {code!r}"]
                elif code in decides:
                    rule_errors[j] = [f"rule {code!r} already decides service {decides[code]}"]
                else:
                    decides[code] = service.get("code", f"[{i}]")
            if rule_errors:
                service_errors["rules"] = rule_errors
            if service_errors:
                errors.setdefault("services", {})[i] = service_errors
        rechecked = data.get("recheck", {}).get("rules", [])
        unknown = {j: [f"unknown rule {code!r}"] for j, code in enumerate(rechecked) if code not in rule_codes}
        if unknown:
            errors["recheck"] = {"rules": unknown}
        if errors:
            raise ValidationError(errors)


class CityConstantSchema(_EntrySchema):
    """An entry of city.yaml: a threshold that rules read as city.<name>."""

    name = _pattern(NAME_PATTERN)
    name_zh = _text()
    value = _StrictNumber(required=True, error_messages={**_MESSAGES, "invalid": "must be a finite number"})
    unit_zh = _text()


class LicenseUseSchema(_EntrySchema):
    """A line of a license type's 用证清单 (whether the matter, departments and items exist is
    checked in `catalog.references`)."""

    matter = _pattern(CODE_PATTERN)
    departments = _list(_pattern(CODE_PATTERN), validate=validate.Length(min=1, error="list at least one department"))
    items = _list(_pattern(NAME_PATTERN), validate=validate.Length(min=1, error="list at least one data item"))
    purpose_zh = _text()


class LicenseTypeSchema(_EntrySchema):
    """An entry of licenses.yaml: a type of e-license in the 证照目录."""

    code = _pattern(CODE_PATTERN)
    type_code = _pattern(LICENSE_TYPE_CODE_PATTERN)
    name_zh = _text()
    name_en = _text()
    department = _pattern(CODE_PATTERN)
    holder = _choice(Subject)
    proof = _pattern(CODE_PATTERN, required=False)
    data_items = _list(_nested(DataItemSchema), validate=validate.Length(min=1, error="list at least one data item"))
    validity = _choice(ValidityRule)
    validity_years = _StrictInteger(
        validate=validate.Range(min=1, max=99, error="must be between {min} and {max}"),
        error_messages={**_MESSAGES, "invalid": "must be a whole number of years"},
    )
    legal_basis_zh = _text()
    uses = _list(_nested(LicenseUseSchema))

    @validates_schema(skip_on_field_errors=False)
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        if data.get("validity") == ValidityRule.YEARS and "validity_years" not in data:
            errors["validity_years"] = ["required because the validity rule is years"]
        if data.get("validity") not in (None, ValidityRule.YEARS) and "validity_years" in data:
            errors["validity_years"] = ["only the validity rule years takes validity_years"]
        items = data.get("data_items", [])
        repeated = _duplicates(item["name"] for item in items if "name" in item)
        if repeated:
            errors["data_items"] = {i: {"name": [f"duplicate data item {name!r}"]} for i, name in repeated.items()}
        names = {item.get("name") for item in items}
        use_errors: dict[int, dict[str, Any]] = {}
        for i, use in enumerate(data.get("uses", [])):
            unknown = {j: [f"{name!r} is not a data item of this license type"]
                       for j, name in enumerate(use.get("items", [])) if name not in names}
            if unknown:
                use_errors[i] = {"items": unknown}
        if use_errors:
            errors["uses"] = use_errors
        if errors:
            raise ValidationError(errors)
