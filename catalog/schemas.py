"""Marshmallow schemas of the catalog's source files, one per kind of entry.

Each schema checks one entry on its own: required fields, types (strict: YAML `yes` is not a
boolean here, `30.0` is not an integer), vocabularies, code patterns, unknown keys, and the
rules that need nothing outside the entry. Rules that relate entries to each other (unknown
department, field not in the proof, duplicate codes) live in `catalog.references`.

`load` returns the entry as a plain dict in the document format of `Catalog.to_document`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import Enum
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from catalog.model import Domain, ItemType, Mode, Outcome, Scope, Subject

CODE_PATTERN = r"^[A-Z][A-Z0-9_]*$"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
SERVICE_CODE_PATTERN = r"^[0-9A-Z-]{10,20}$"

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


def _text(*, required: bool = True) -> fields.String:
    return fields.String(
        required=required,
        validate=validate.Length(min=1, error="must not be empty"),
        error_messages={**_MESSAGES, "invalid": "must be a string"},
    )


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


def _flag() -> _StrictBoolean:
    return _StrictBoolean(required=True, error_messages={**_MESSAGES, "invalid": "must be true or false"})


def _list(item: fields.Field, *, required: bool = True, **kwargs: Any) -> fields.List:
    return fields.List(item, required=required, error_messages={**_MESSAGES, "invalid": "must be a list"}, **kwargs)


def _nested(schema: type[Schema]) -> fields.Nested:
    return fields.Nested(schema, error_messages={**_MESSAGES, "type": "must be a mapping"})


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
    values = fields.Dict(
        keys=_pattern(NAME_PATTERN),
        values=_text(),
        validate=validate.Length(min=1, error="must not be empty"),
        error_messages={**_MESSAGES, "invalid": "must be a mapping of value codes to Chinese labels"},
    )

    @validates_schema(skip_on_field_errors=False)
    def _values_match_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        kind = data.get("type")
        if kind == ItemType.ENUM and "values" not in data:
            raise ValidationError("an enum item needs its values", field_name="values")
        if kind not in (None, ItemType.ENUM, ItemType.LIST) and "values" in data:
            raise ValidationError(f"only enum and list items take values, this one is {kind}", field_name="values")


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

    @validates_schema(skip_on_field_errors=False)
    def _rules_of_the_mode(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        items = data.get("data_items", [])
        if data.get("mode") == Mode.ABOLISHED and items:
            errors["data_items"] = ["an abolished proof has no data items"]
        if data.get("mode") == Mode.COMMITMENT and "commitment_text_zh" not in data:
            errors["commitment_text_zh"] = ["required because the mode is commitment"]
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

    @validates_schema(skip_on_field_errors=False)
    def _fields_once(self, data: dict[str, Any], **kwargs: Any) -> None:
        repeated = _duplicates(data.get("fields", []))
        if repeated:
            raise ValidationError({"fields": {i: [f"duplicate field {name!r}"] for i, name in repeated.items()}})


class RuleSchema(_EntrySchema):
    """An eligibility rule of a matter; its expression is checked in `catalog.rules`."""

    code = _pattern(NAME_PATTERN)
    name_zh = _text()
    expression = _text()
    outcome_if_false = _choice(Outcome)


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
        rule_codes = _duplicates(rule.get("code", "") for rule in data.get("rules", []))
        if any(rule_codes.values()):
            errors["rules"] = {i: {"code": [f"duplicate rule code {code!r}"]} for i, code in rule_codes.items() if code}
        if errors:
            raise ValidationError(errors)
