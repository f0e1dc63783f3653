"""Type checks of the catalog's CEL expressions, by trial evaluation.

celpy has no type checker, and the names an expression reads are checked on their own
(`catalog.expression_names`). What remains is what only the types tell: a decimal item compared
with a string (`income.per_capita_monthly_income < '3000'`), an expression that gives a number
rather than a boolean. Published, such a rule is undecidable for every application of its matter
(each one goes to a caseworker) until someone notices.

So each expression is evaluated, before publication, over sample values of the types its catalog
gives every name — each data item by its `type` (decimals as doubles, as the matter handlers bind
them), options, the city's constants with their values, `today` — twice: once with every value
"low" (false, zero, empty, the first code of a vocabulary) and once "high", so that `&&`, `||`
and `?:` take both ways at least once; and, for each quoted string the expression names, twice
more with every vocabulary that has that code taking it, so that a branch only one code of a
vocabulary opens (`marital_status == 'married' ? ...`) is taken too. An evaluation that fails on a type (celpy's TypeError:
no overload of an operator for its operands) is a problem, as is a result that is no boolean.
Anything else (a missing key, a division by zero) says nothing about the types and is left to
the other checks. A type error in a branch neither sample reaches is not found here: it is
undecided at evaluation, as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import celpy

from catalog.expression_names import IDENTITY_KEY
from catalog.model import ItemType, OptionType, Scope
from catalog.rules import APPLICANT_NAME, EvaluationBudgetExceeded, compile_expression

Entries = Mapping[str, Mapping[str, Any]]
"""Schema-valid catalog entries by code (proofs), or data items by name."""



@dataclass(frozen=True)
class _Sample:
    """One set of values an expression is evaluated over: every value low (0) or high (1), but
    a vocabulary (enum, list, option) that has `code` takes it."""

    level: int
    code: str | None = None


_QUOTED = re.compile(r"'([^'\\]*)'|\"([^\"\\]*)\"")


def _samples(expression: str) -> list[_Sample]:
    """Low and high, then low and high with each code the expression quotes."""
    codes = sorted({single or double for single, double in _QUOTED.findall(expression)} - {""})
    return [_Sample(level, code) for code in (None, *codes) for level in (0, 1)]

_LOW_HIGH: dict[ItemType, tuple[Any, Any]] = {
    ItemType.STRING: ("", "x"),
    ItemType.ID_NUMBER: ("110105194912310021", "330702199003071233"),
    ItemType.USCC: ("91330700MA2ABCDE1X", "91330700MA2ABCDE1X"),
    ItemType.DATE: ("1970-01-01", "2099-12-31"),
    ItemType.DATETIME: ("1970-01-01T00:00:00+08:00", "2099-12-31T23:59:59+08:00"),
    ItemType.BOOLEAN: (False, True),
    ItemType.INTEGER: (0, 1),
    ItemType.DECIMAL: (0.0, 1.0),
    ItemType.REGION_CODE: ("330702", "330783"),
}


def matter_type_problems(matter: Mapping[str, Any], proofs: Entries,
                         city: Mapping[str, float] | None) -> Iterator[tuple[str, str]]:
    """(field path, message) for each expression of a schema-valid matter (rules, priorities,
    `when`) whose types are wrong. `proofs`: the valid proofs by code; `city`: the constants'
    values (None when the city section has a problem of its own). Nothing is checked while a
    proof the matter lists, or the city, has problems of its own: those are reported."""
    if city is None or any(entry["proof"] not in proofs for entry in matter["proofs"]):
        return
    expressions = [(f"{key}[{entry['code']}].expression", entry["expression"])
                   for key in ("rules", "priorities") for entry in matter.get(key, [])]
    expressions += [(f"proofs[{entry['proof']}].when", entry["when"]) for entry in matter["proofs"] if "when" in entry]
    vocabularies = {entry["proof"].lower(): _vocabularies(proofs[entry["proof"]]) for entry in matter["proofs"]}
    vocabularies["application"] = {option["name"]: list(option["values"]) for option in matter.get("options", [])
                                   if option.get("values")}
    for path, expression in expressions:
        bindings = [_matter_binding(matter, proofs, city, sample) for sample in _samples(expression)]
        if message := code_problem(expression, vocabularies) or type_problem(expression, bindings):
            yield path, message


def verification_type_problem(proof: Mapping[str, Any], proofs: Entries, city: Mapping[str, float] | None) -> str | None:
    """What is wrong with the types of a schema-valid proof's verification expression, if it has
    one (`proofs` and `city` as `matter_type_problems` takes them)."""
    expression = proof["verification"].get("expression")
    checked = proofs.get(proof["verification"]["proof"])
    if expression is None or checked is None or city is None:
        return None
    vocabularies = {"committed": _vocabularies(proof), "record": _vocabularies(checked)}
    return code_problem(expression, vocabularies) or type_problem(expression, [
        {"committed": _items(proof, sample), "record": _items(checked, sample), "city": dict(city),
         "today": _today_sample(sample)} for sample in _samples(expression)])


def _matter_binding(matter: Mapping[str, Any], proofs: Entries, city: Mapping[str, float],
                    sample: _Sample) -> dict[str, Any]:
    """The activation of `sample` for a matter's expressions, bound as the handlers bind an
    application's (`exchange.applications.evaluation.Binding`)."""
    top: dict[str, Any] = {"application": {option["name"]: _option_sample(option, sample)
                                           for option in matter.get("options", [])},
                           "city": dict(city), "today": _today_sample(sample),
                           APPLICANT_NAME: {IDENTITY_KEY: _LOW_HIGH[ItemType.ID_NUMBER][sample.level]}}
    member: dict[str, Any] = {IDENTITY_KEY: _LOW_HIGH[ItemType.ID_NUMBER][sample.level]}
    for entry in matter["proofs"]:
        values = _items(proofs[entry["proof"]], sample, entry["fields"])
        scope = Scope(entry["scope"])
        if scope.one_subject:
            top[entry["proof"].lower()] = values
        elif scope is Scope.EACH_MEMBER:
            member[entry["proof"].lower()] = values
    if matter["household"]:
        top["members"] = [member]
    return top


def _items(proof: Mapping[str, Any], sample: _Sample, fields: Sequence[str] | None = None) -> dict[str, Any]:
    """A sample of the proof's data items (only `fields`, those a matter receives, if given)."""
    return {item["name"]: _item_sample(item, sample) for item in proof["data_items"]
            if fields is None or item["name"] in fields}


def _code(codes: list[str], sample: _Sample) -> str:
    """The code of a vocabulary `sample` takes: its own, else the first (low) or the last (high)."""
    return sample.code if sample.code in codes else codes[-sample.level]


def _item_sample(item: Mapping[str, Any], sample: _Sample) -> Any:
    """A JSON value of the data item `item` (a schema-valid catalog entry) as the handlers bind it."""
    kind = ItemType(item["type"])
    codes = list(item.get("values") or {})
    if kind is ItemType.ENUM:
        return _code(codes or ["x"], sample)
    if kind is ItemType.LIST:  # of codes of its vocabulary; one without holds records of the source's own shape,
        return [] if not codes or (sample.level == 0 and sample.code not in codes) else [_code(codes, sample)]
    return _LOW_HIGH[kind][sample.level]  # (which the catalog does not describe: none sampled)


def _option_sample(option: Mapping[str, Any], sample: _Sample) -> Any:
    """A value of the matter option `option` (a schema-valid entry)."""
    if OptionType(option["type"]) is OptionType.BOOLEAN:
        return bool(sample.level)
    return _code(list(option.get("values") or {option["default"]: ""}), sample)


def _today_sample(sample: _Sample) -> str:
    return _LOW_HIGH[ItemType.DATE][sample.level]


def _vocabularies(proof: Mapping[str, Any]) -> dict[str, list[str]]:
    """The codes of each of the proof's items that has a vocabulary (enums, lists of codes)."""
    return {item["name"]: list(item["values"]) for item in proof["data_items"] if item.get("values")}


_QUOTE = r"""('[^'\\]*'|"[^"\\]*")"""
_COMPARED = re.compile(rf"\b(\w+)\.(\w+)\s*(?:==|!=)\s*{_QUOTE}|{_QUOTE}\s*(?:==|!=)\s*(\w+)\.(\w+)\b")
_LISTED = re.compile(r"\b(\w+)\.(\w+)\s+in\s+\[([^\]]*)\]")
_MEMBER_OF = re.compile(rf"{_QUOTE}\s+in\s+(\w+)\.(\w+)\b")


def code_problem(expression: str, vocabularies: Mapping[str, Mapping[str, Sequence[str]]]) -> str | None:
    """A quoted string the expression compares with an item of a vocabulary (`name.item == 'x'`,
    `'x' != name.item`, `name.item in ['x', ...]`, `'x' in name.items`), which is none of its codes: a misspelt code
    (`'maried'`) would make the comparison false for everyone, and the rule decide on it
    silently. `vocabularies`: binding name -> item -> codes."""
    compared = [(found[0] or found[4], found[1] or found[5], found[2] or found[3]) for found in _COMPARED.findall(expression)]
    compared += [(name, item, quoted) for name, item, listed in _LISTED.findall(expression)
                 for quoted in re.findall(_QUOTE, listed)]
    compared += [(name, item, quoted) for quoted, name, item in _MEMBER_OF.findall(expression)]
    for name, item, quoted in compared:
        codes = vocabularies.get(name, {}).get(item)
        if codes is not None and quoted[1:-1] not in codes:
            return f"{quoted} is not a code of {name}.{item} ({', '.join(codes)})"
    return None


def type_problem(expression: str, bindings: Sequence[Mapping[str, Any]]) -> str | None:
    """What is wrong with the types of `expression` (a message), evaluated over each of the
    `bindings` (JSON values by name, one activation per sample); None if nothing is found (nor
    when it does not parse: that is reported on its own)."""
    try:
        program = compile_expression(expression)
    except celpy.CELParseError:
        return None
    for activation in bindings:
        try:
            result = program.evaluate({name: celpy.json_to_cel(value) for name, value in activation.items()})
        except celpy.CELEvalError as error:
            if len(error.args) > 1 and error.args[1] is TypeError:
                return ("type error: an operator or function is given values of types it does not take "
                        f"({_operation(error)})")
            continue
        except EvaluationBudgetExceeded:
            continue
        if not isinstance(result, celpy.celtypes.BoolType):
            return f"must give a boolean, gives {_cel_type(result)}"
    return None


def _operation(error: celpy.CELEvalError) -> str:
    """celpy's message in the catalog's words, without the sample values (`'<' not supported
    between instances of 'double' and 'string'`)."""
    detail = str(error.args[2][0] if len(error.args) > 2 and error.args[2] else error.args[0])
    detail = _VALUE_OF_TYPE.sub(lambda found: found[1], detail)
    return _CEL_TYPE.sub(lambda found: found[1].lower(), detail)


_VALUE_OF_TYPE = re.compile(r"\w+\(.*?\) <class 'celpy\.celtypes\.(\w+)'>")
"""celpy's `int(1) <class 'celpy.celtypes.int'>`: a sample value and its type."""
_CEL_TYPE = re.compile(r"\b(Double|String|Int|UInt|Bool|List|Map|Bytes|Null)Type\b")


def _cel_type(value: Any) -> str:
    return {celpy.celtypes.DoubleType: "a number", celpy.celtypes.IntType: "a number",
            celpy.celtypes.StringType: "a string", celpy.celtypes.ListType: "a list",
            celpy.celtypes.MapType: "a map"}.get(type(value), type(value).__name__)
