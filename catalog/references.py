"""The rules that relate catalog entries to each other, checked after each entry has passed
its schema: duplicate codes, names and credit codes, unknown departments and proofs, matter
fields that are not data items of the proof, what a matter's handling mode (and a fallback to
commitment) requires of a proof, what a proof's verification checks against, the fact a
proof's title asserts and its neutral alternative, what the catalog's CEL expressions read
(`catalog.rules`), and what the license types (证照目录) name: departments, the proof they
answer, the matters and departments of their 用证清单.

An entry that failed its schema still counts for its code, so a broken proof does not also
make every matter that names it report an unknown proof.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from catalog.errors import Problem
from catalog.expression_types import matter_type_problems, verification_type_problem
from catalog.model import ItemType, Mode, Scope
from catalog.rules import DataItems, condition_problems, rule_problems, verification_problems


@dataclass(frozen=True)
class Entry:
    """One entry of a section: how problems name it, its raw code, and its schema-validated
    data (None if the schema rejected it)."""

    index: int
    label: str
    code: str | None
    data: dict[str, Any] | None


@dataclass(frozen=True)
class Section:
    """The entries of one section (departments, proofs, matters or city) and the file they came
    from; `key` is the field that names an entry (`code`, or `name` for city constants).

    A section that could not be read at all is not `readable`; references into it are not
    checked, so a missing proofs.yaml is one problem, not one per matter.
    """

    file: str
    entries: Sequence[Entry]
    readable: bool = True
    key: str = "code"

    def problem(self, entry: Entry, field: str, message: str) -> Problem:
        return Problem(self.file, entry.label, field, message)

    def codes(self) -> set[str] | None:
        """The codes (names) of all entries, valid or not; None when the section is not readable."""
        if not self.readable:
            return None
        return {entry.code for entry in self.entries if entry.code is not None}

    def valid(self) -> Iterator[tuple[Entry, dict[str, Any]]]:
        return ((entry, entry.data) for entry in self.entries if entry.data is not None)


def reference_problems(departments: Section, proofs: Section, matters: Section, city: Section) -> list[Problem]:
    """Every problem between entries, grouped by rule (the loader sorts them by file)."""
    problems = [*_duplicate_codes(departments), *_duplicate_codes(proofs), *_duplicate_codes(matters)]
    problems += [*_duplicate_codes(city), *_duplicate_credit_codes(departments)]
    department_codes = departments.codes()
    valid_proofs = {proof["code"]: proof for _, proof in proofs.valid()}
    data_items = {code: [item["name"] for item in proof["data_items"]] for code, proof in valid_proofs.items()}
    constants = {data["name"]: float(data["value"]) for _, data in city.valid()}
    whole_city = constants if city.readable and len(constants) == len(city.entries) else None
    known = _Known(proofs.codes(), valid_proofs, data_items, city.codes(), whole_city)
    for entry, proof in proofs.valid():
        if department_codes is not None and proof["department"] not in department_codes:
            problems.append(proofs.problem(entry, "department", f"unknown department {proof['department']!r}"))
        if "verification" in proof:
            problems += _verification_problems(proofs, entry, proof, known)
        if "asserts" in proof:
            problems += _assertion_problems(proofs, entry, proof, known, department_codes)
    for entry, matter in matters.valid():
        problems += _matter_problems(matters, entry, matter, department_codes, known)
    return problems


@dataclass(frozen=True)
class _Known:
    """What proofs and matters are checked against: the codes of all proofs (None if
    unreadable), the valid proofs and their data item names by code, and the names of the city
    constants (None if unreadable)."""

    proof_codes: set[str] | None
    valid_proofs: dict[str, dict[str, Any]]
    data_items: DataItems
    city: set[str] | None
    city_values: dict[str, float] | None
    """The constants' values by name; None unless every constant is valid (types are checked then)."""


def _duplicate_codes(section: Section) -> Iterator[Problem]:
    first_label: dict[str, str] = {}
    for entry in section.entries:
        if entry.code is None:
            continue
        if entry.code in first_label:
            message = f"duplicate {section.key}, already used by entry {first_label[entry.code]}"
            yield section.problem(entry, section.key, message)
        else:
            first_label[entry.code] = f"[{entry.index}]"


def _duplicate_credit_codes(departments: Section) -> Iterator[Problem]:
    holder: dict[str, str] = {}
    for entry, department in departments.valid():
        uscc = department["uscc"]
        if uscc in holder:
            message = f"duplicate credit code, already used by department {holder[uscc]}"
            yield departments.problem(entry, "uscc", message)
        else:
            holder[uscc] = entry.label


def _verification_problems(proofs: Section, entry: Entry, proof: dict[str, Any], known: _Known) -> Iterator[Problem]:
    verification = proof["verification"]
    target = verification["proof"]
    if known.proof_codes is not None and target not in known.proof_codes:
        yield proofs.problem(entry, "verification.proof", f"unknown proof {target!r}")
        return
    checked = known.valid_proofs.get(target)
    if checked is not None and checked["mode"] == Mode.ABOLISHED:
        message = f"proof {target} is abolished: there is no record to check against"
        yield proofs.problem(entry, "verification.proof", message)
        return
    if checked is not None and "expression" not in verification:
        if not set(known.data_items[proof["code"]]) & set(known.data_items[target]):
            message = f"required: {proof['code']} and {target} have no data item in common to compare"
            yield proofs.problem(entry, "verification.expression", message)
    problems = list(verification_problems(proof, known.data_items, known.city))
    for field, message in problems:
        yield proofs.problem(entry, field, message)
    if not problems and (message := verification_type_problem(proof, known.valid_proofs, known.city_values)):
        yield proofs.problem(entry, "verification.expression", message)


def _assertion_problems(proofs: Section, entry: Entry, proof: dict[str, Any], known: _Known,
                        department_codes: set[str] | None) -> Iterator[Problem]:
    """The asserted item is a boolean or enum item of the proof and the value one it can take;
    the alternative is another proof of the same department that asserts nothing itself."""
    asserts = proof["asserts"]
    item = next((i for i in proof["data_items"] if i["name"] == asserts["item"]), None)
    value = asserts["value"]
    if item is None:
        yield proofs.problem(entry, "asserts.item", f"{asserts['item']!r} is not a data item of proof {proof['code']}")
    elif item["type"] == ItemType.BOOLEAN and not isinstance(value, bool):
        yield proofs.problem(entry, "asserts.value", f"{asserts['item']} is a boolean item: the value is true or false")
    elif item["type"] == ItemType.ENUM and value not in item["values"]:
        yield proofs.problem(entry, "asserts.value", f"{value!r} is not one of: {', '.join(item['values'])}")
    elif item["type"] not in (ItemType.BOOLEAN, ItemType.ENUM):
        yield proofs.problem(entry, "asserts.item", f"{asserts['item']} is of type {item['type']}; "
                                                    "a fact is a boolean or enum item")
    alternative = asserts.get("alternative")
    if alternative is None:
        return
    if known.proof_codes is not None and alternative not in known.proof_codes:
        yield proofs.problem(entry, "asserts.alternative", f"unknown proof {alternative!r}")
        return
    neutral = known.valid_proofs.get(alternative)
    if neutral is None:
        return
    if alternative == proof["code"] or "asserts" in neutral:
        yield proofs.problem(entry, "asserts.alternative", f"proof {alternative} asserts a fact itself; "
                                                           "the alternative states the result either way")
    elif neutral["department"] != proof["department"] and proof["department"] in (department_codes or ()):
        yield proofs.problem(entry, "asserts.alternative", f"proof {alternative} is issued by "
                                                           f"{neutral['department']}, not {proof['department']}")


def _matter_problems(
    matters: Section, entry: Entry, matter: dict[str, Any], department_codes: set[str] | None, known: _Known
) -> Iterator[Problem]:
    for i, consumer in enumerate(matter["consumers"]):
        if department_codes is not None and consumer not in department_codes:
            yield matters.problem(entry, f"consumers[{i}]", f"unknown department {consumer!r}")
    for i, required in enumerate(matter["proofs"]):
        path = f"proofs[{i}]"
        code = required["proof"]
        if known.proof_codes is not None and code not in known.proof_codes:
            yield matters.problem(entry, f"{path}.proof", f"unknown proof {code!r}")
            continue
        proof = known.valid_proofs.get(code)
        if proof is None:
            continue  # the proof is broken or unreadable, and that is already reported
        item_names = [item["name"] for item in proof["data_items"]]
        for j, field in enumerate(required["fields"]):
            if field not in item_names:
                yield matters.problem(entry, f"{path}.fields[{j}]", f"{field!r} is not a data item of proof {code}")
        mode = required.get("mode", proof["mode"])
        if mode == Mode.ABOLISHED and required["fields"]:
            yield matters.problem(entry, f"{path}.fields", f"must be empty: proof {code} is abolished for this matter")
        if mode != Mode.ABOLISHED and not required["fields"]:
            yield matters.problem(entry, f"{path}.fields", f"name the data items of proof {code} this matter needs")
        if mode == Mode.COMMITMENT and "commitment_text_zh" not in proof:
            yield matters.problem(entry, f"{path}.mode", f"commitment needs commitment_text_zh on proof {code}")
        if required.get("commitment_fallback"):
            yield from _fallback_problems(matters, entry, f"{path}.commitment_fallback", code, Mode(mode), proof)
        needed = Scope(required["scope"]).required_subject
        if needed is not None and proof["subject"] != needed:
            scope, subject = required["scope"], proof["subject"]
            message = f"scope {scope} needs a proof whose subject is {needed}, {code} has subject {subject}"
            yield matters.problem(entry, f"{path}.scope", message)
    named = [problem for check in (rule_problems, condition_problems)
             for problem in check(matter, known.data_items, known.city)]
    for field, message in named:
        yield matters.problem(entry, field, message)
    if not named:  # what an expression reads is known: the types of what it does with it
        for field, message in matter_type_problems(matter, known.valid_proofs, known.city_values):
            yield matters.problem(entry, field, message)


def _fallback_problems(
    matters: Section, entry: Entry, path: str, code: str, mode: Mode, proof: dict[str, Any]
) -> Iterator[Problem]:
    """A fallback to commitment is for a proof pulled from its source, with a text to sign."""
    if not mode.pulled:
        message = (
            f"only a proof pulled from its source (data_sharing, e_license, online_issue) can fall back to "
            f"commitment; {code} is {mode} in this matter"
        )
        yield matters.problem(entry, path, message)
    elif "commitment_text_zh" not in proof:
        yield matters.problem(entry, path, f"falling back to commitment needs commitment_text_zh on proof {code}")


def license_problems(licenses: Section, departments: Section, proofs: Section, matters: Section) -> list[Problem]:
    """What license types name must exist: the issuing department, the proof they answer (about
    the same kind of holder, the items they share of the same type), the matters and departments
    of each use; type codes are unique."""
    problems = list(_duplicate_codes(licenses))
    department_codes, proof_codes, matter_codes = departments.codes(), proofs.codes(), matters.codes()
    valid_proofs = {proof["code"]: proof for _, proof in proofs.valid()}
    type_codes: dict[str, str] = {}
    for entry, license_type in licenses.valid():
        if license_type["type_code"] in type_codes:
            message = f"duplicate type_code, already used by license type {type_codes[license_type['type_code']]}"
            problems.append(licenses.problem(entry, "type_code", message))
        type_codes.setdefault(license_type["type_code"], entry.label)
        if department_codes is not None and license_type["department"] not in department_codes:
            problems.append(licenses.problem(entry, "department", f"unknown department {license_type['department']!r}"))
        problems += _answered_proof_problems(licenses, entry, license_type, proof_codes, valid_proofs)
        for i, use in enumerate(license_type["uses"]):
            if matter_codes is not None and use["matter"] not in matter_codes:
                problems.append(licenses.problem(entry, f"uses[{i}].matter", f"unknown matter {use['matter']!r}"))
            for j, department in enumerate(use["departments"]):
                if department_codes is not None and department not in department_codes:
                    problems.append(licenses.problem(entry, f"uses[{i}].departments[{j}]",
                                                     f"unknown department {department!r}"))
    return problems


def _answered_proof_problems(licenses: Section, entry: Entry, license_type: dict[str, Any],
                             proof_codes: set[str] | None, valid_proofs: dict[str, dict[str, Any]]) -> Iterator[Problem]:
    code = license_type.get("proof")
    if code is None:
        return
    if proof_codes is not None and code not in proof_codes:
        yield licenses.problem(entry, "proof", f"unknown proof {code!r}")
        return
    proof = valid_proofs.get(code)
    if proof is None:
        return
    if proof["subject"] != license_type["holder"]:
        yield licenses.problem(entry, "proof", f"proof {code} has subject {proof['subject']}, "
                                               f"this license type has holder {license_type['holder']}")
    types = {item["name"]: item["type"] for item in proof["data_items"]}
    for i, item in enumerate(license_type["data_items"]):
        if item["name"] in types and types[item["name"]] != item["type"]:
            yield licenses.problem(entry, f"data_items[{i}].type",
                                   f"proof {code} has {item['name']!r} as {types[item['name']]}, not {item['type']}")
