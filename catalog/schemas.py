"""Marshmallow schemas of the catalog's source files, one per kind of entry, built from the
entry's dataclass in `catalog.model` (its fields' types, defaults and `catalog.field_shapes`).

Each schema checks one entry on its own: required fields, types (strict: YAML `yes` is not a
boolean here, `30.0` is not an integer), vocabularies, code patterns, unknown keys, and the
rules that need nothing outside the entry. Rules that relate entries to each other (unknown
department, field not in the proof, duplicate codes) live in `catalog.references`.

`load` returns the entry as a plain dict in the document format of `Catalog.to_document`. A
schema adds to its generated fields only the rules that relate one field of the entry to another.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections import Counter
from collections.abc import Iterable, Mapping
from enum import Enum
from dataclasses import replace
from types import UnionType
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from catalog.field_shapes import NAME_PATTERN, Shape, shape_of
from catalog.model import (Assertion, CityConstant, DataItem, Department, ItemType, LicenseType, LicenseUse, Matter,
                           MatterOption, MatterProof, Mode, OptionType, Priority, Proof, Recheck, Rule, Scope, Service,
                           ValidityRule, Verification)
from catalog.rules import expression_limit_problem

_MESSAGES = {"required": "required field is missing", "null": "must not be null"}


class StrictBoolean(fields.Boolean):
    """Only true and false (marshmallow's Boolean also takes 1, "yes", "on", ...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class _StrictInteger(fields.Integer):
    """Only integers, and not booleans (which Python counts as integers)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not -2**63 <= value < 2**63:
            raise self.make_error("invalid")
        return value


class _StrictNumber(fields.Float):
    """Only finite integers and decimals, and not booleans; loaded as a float."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float
            raise self.make_error("invalid") from None
        if not math.isfinite(number):
            raise self.make_error("invalid")
        return number


_STRING = {**_MESSAGES, "invalid": "must be a string"}


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Control characters (a line break and a tab aside) and the bidirectional overrides that would
show a sealed name reordered: never part of a catalog text, which certificates print."""


MAX_TEXT_CHARS = 2000
"""The longest text of a catalog entry (the bundled catalog's longest has 184 characters): every
worker parses and keeps the live catalog, and certificates print its names."""


def _printable(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be blank" if value else "must not be empty")
    if len(value) > MAX_TEXT_CHARS:
        raise ValidationError(f"must have at most {MAX_TEXT_CHARS} characters")
    if _UNPRINTABLE.search(value):
        raise ValidationError("must not contain control or bidirectional-override characters")


def _text(**options: Any) -> fields.String:
    return fields.String(validate=_printable, error_messages=_STRING, **options)


def _expression(**options: Any) -> fields.String:
    """A CEL expression, within `catalog.rules`' limits; what it reads is checked there, after parsing."""
    return fields.String(validate=[validate.Length(min=1, error="must not be empty"), _within_expression_limits],
                         error_messages=_STRING, **options)


def _within_expression_limits(expression: str) -> None:
    problem = expression_limit_problem(expression)
    if problem is not None:
        raise ValidationError(problem)


class WholeMatch(validate.Regexp):
    """`validate.Regexp` over the whole value: its `re.match` with `^...$` lets a trailing newline
    through (`$` matches before it), so "ZJ\n" passed as a code other than ZJ."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def _pattern(pattern: str, **options: Any) -> fields.String:
    return fields.String(validate=WholeMatch(pattern, error="{input!r} does not match {regex}"),
                         error_messages=_STRING, **options)


def _credit_code(**options: Any) -> fields.String:
    return fields.String(validate=_validate_uscc, error_messages=_STRING, **options)


def _choice(vocabulary: type[Enum], **options: Any) -> fields.String:
    values = [member.value for member in vocabulary]
    return fields.String(validate=validate.OneOf(values, error="{input!r} is not one of: {choices}"),
                         error_messages=_STRING, **options)


def _labels(**options: Any) -> fields.Dict:
    """Value codes mapped to their Chinese labels (an enum's or list's vocabulary)."""
    return fields.Dict(
        keys=_pattern(NAME_PATTERN),
        values=_text(),
        validate=validate.Length(min=1, error="must not be empty"),
        error_messages={**_MESSAGES, "invalid": "must be a mapping of value codes to Chinese labels"},
        **options,
    )


def _integer(shape: Shape, **options: Any) -> _StrictInteger:
    limits = validate.Range(min=shape.minimum, max=shape.maximum, error=shape.range_error)
    return _StrictInteger(validate=limits, error_messages={**_MESSAGES, "invalid": shape.type_error}, **options)


def _list(element: fields.Field, shape: Shape, **options: Any) -> fields.List:
    """A list of `element`s; not empty, or a list of rule codes none listed twice, as `shape` says."""
    checks: list[Any] = []
    if shape.at_least_one:
        checks.append(validate.Length(min=1, error=shape.at_least_one))
    if shape.rule_codes:
        checks.append(_rules_once)
    return fields.List(element, validate=checks, error_messages={**_MESSAGES, "invalid": "must be a list"}, **options)


def _rules_once(codes: list[str]) -> None:
    """A list of a matter's rule codes names none twice (whether they are its rules is checked by
    `MatterSchema`)."""
    repeated = _duplicates(codes)
    if repeated:
        raise ValidationError({i: [f"rule {code!r} is listed twice"] for i, code in repeated.items()})


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


class _FactValue(fields.Field):
    """The value a data item must have for a proof's title to hold: true/false or an enum code."""

    default_error_messages = {"invalid": "must be true, false or a value code"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool | str:
        if isinstance(value, bool) or (isinstance(value, str) and value):
            return value
        raise self.make_error("invalid")


class _EntrySchema(Schema):
    """A schema of one kind of entry; every schema made from a dataclass is the one its entries
    nested in other entries are checked with (the last made for it: the one with its rules)."""

    error_messages = {"unknown": "unknown field", "type": "must be a mapping"}
    checks: ClassVar[type | None] = None
    """The dataclass this schema checks entries of."""

    class Meta:
        unknown = RAISE

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.checks is not None:
            _SCHEMA_OF[cls.checks] = cls


_SCHEMA_OF: dict[type, type[_EntrySchema]] = {}


def fields_of(kind: type) -> type[_EntrySchema]:
    """A schema with a field for each field of the dataclass `kind`, in its order: required unless
    it has a default, null allowed where its type is optional and it has no default. A schema of
    an entry subclasses it and adds the rules between its fields."""
    hints = typing.get_type_hints(kind)
    declared = {field.name: _field(hints[field.name], shape_of(field), has_default=_has_default(field))
                for field in dataclasses.fields(kind)}
    return type(f"{kind.__name__}Fields", (_EntrySchema,), {**declared, "checks": kind})


def _has_default(field: dataclasses.Field[Any]) -> bool:
    return field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING


def _field(hint: Any, shape: Shape, *, has_default: bool) -> fields.Field:
    given = [argument for argument in typing.get_args(hint) if argument is not type(None)]
    optional = typing.get_origin(hint) in (UnionType, typing.Union) and len(given) < len(typing.get_args(hint))
    if optional and len(given) == 1:
        hint = given[0]
    options = {"required": not has_default, "allow_none": optional and not has_default}
    if typing.get_origin(hint) in (UnionType, typing.Union):  # true/false or a value code
        return _FactValue(error_messages=_MESSAGES, **options) if shape.fact_value else \
            fields.Raw(error_messages=_MESSAGES, **options)
    if typing.get_origin(hint) is tuple:
        element = _field(typing.get_args(hint)[0], replace(shape, at_least_one=None, rule_codes=False), has_default=True)
        return _list(element, shape, **options)
    return _single(hint, shape, **options)


def _single(hint: Any, shape: Shape, **options: Any) -> fields.Field:
    """The field of one value of type `hint` (not a list, not a union)."""
    if typing.get_origin(hint) is Mapping or hint is Mapping:
        return _labels(**options)
    if dataclasses.is_dataclass(hint):
        return fields.Nested(_SCHEMA_OF[hint], error_messages={**_MESSAGES, "type": "must be a mapping"}, **options)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _choice(hint, **options)
    if hint is bool:
        return StrictBoolean(error_messages={**_MESSAGES, "invalid": "must be true or false"}, **options)
    if hint is int:
        return _integer(shape, **options)
    if hint is float:
        return _StrictNumber(error_messages={**_MESSAGES, "invalid": shape.type_error or "must be a number"}, **options)
    if shape.pattern is not None:
        return _pattern(shape.pattern, **options)
    if shape.expression:
        return _expression(**options)
    if shape.credit_code:
        return _credit_code(**options)
    return _text(**options)


class DepartmentSchema(fields_of(Department)):
    """An entry of departments.yaml."""


class DataItemSchema(fields_of(DataItem)):
    """A data item of a proof."""

    @validates_schema(skip_on_field_errors=False)
    def _values_match_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        kind = data.get("type")
        if kind == ItemType.ENUM and "values" not in data:
            raise ValidationError("an enum item needs its values", field_name="values")
        if kind not in (None, ItemType.ENUM, ItemType.LIST) and "values" in data:
            raise ValidationError(f"only enum and list items take values, this one is {kind}", field_name="values")


class VerificationSchema(fields_of(Verification)):
    """How a commitment to a proof is checked afterwards; the expression is checked in `catalog.rules`."""


class AssertionSchema(fields_of(Assertion)):
    """The fact a proof's title asserts (无房: no property registered); checked against the
    proof's data items in `catalog.references`."""


class ProofSchema(fields_of(Proof)):
    """An entry of proofs.yaml."""

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


class MatterProofSchema(fields_of(MatterProof)):
    """A proof as a matter requires it."""

    @validates_schema(skip_on_field_errors=False)
    def _fields_once(self, data: dict[str, Any], **kwargs: Any) -> None:
        repeated = _duplicates(data.get("fields", []))
        if repeated:
            raise ValidationError({"fields": {i: [f"duplicate field {name!r}"] for i, name in repeated.items()}})


class RuleSchema(fields_of(Rule)):
    """An eligibility rule of a matter; its expression is checked in `catalog.rules`."""


class MatterOptionSchema(fields_of(MatterOption)):
    """A choice the applicant makes when applying a matter."""

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


class PrioritySchema(fields_of(Priority)):
    """A priority a matter grants; its expression is checked in `catalog.rules`."""


class ServiceSchema(fields_of(Service)):
    """One department's part of a bundled matter."""


class RecheckSchema(fields_of(Recheck)):
    """The periodic re-check of a matter's beneficiaries."""


class MatterSchema(fields_of(Matter)):
    """An entry of matters.yaml."""

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


class CityConstantSchema(fields_of(CityConstant)):
    """An entry of city.yaml: a threshold that rules read as city.<name>."""


class LicenseUseSchema(fields_of(LicenseUse)):
    """A line of a license type's 用证清单 (whether the matter, departments and items exist is
    checked in `catalog.references`)."""


class LicenseTypeSchema(fields_of(LicenseType)):
    """An entry of licenses.yaml: a type of e-license in the 证照目录."""

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
