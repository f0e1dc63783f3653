"""The rules that relate catalog entries to each other, checked after each entry has passed
its schema: duplicate codes and credit codes, unknown departments and proofs, matter fields
that are not data items of the proof, what a matter's handling mode requires of a proof, and
what a matter's eligibility rules read (`catalog.rules`).

An entry that failed its schema still counts for its code, so a broken proof does not also
make every matter that names it report an unknown proof.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from catalog.errors import Problem
from catalog.model import Mode, Scope
from catalog.rules import rule_problems


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
    """The entries of one section (departments, proofs or matters) and the file they came from.

    A section that could not be read at all is not `readable`; references into it are not
    checked, so a missing proofs.yaml is one problem, not one per matter.
    """

    file: str
    entries: Sequence[Entry]
    readable: bool = True

    def problem(self, entry: Entry, field: str, message: str) -> Problem:
        return Problem(self.file, entry.label, field, message)

    def codes(self) -> set[str] | None:
        """The codes of all entries, valid or not; None when the section is not readable."""
        if not self.readable:
            return None
        return {entry.code for entry in self.entries if entry.code is not None}

    def valid(self) -> Iterator[tuple[Entry, dict[str, Any]]]:
        return ((entry, entry.data) for entry in self.entries if entry.data is not None)


def reference_problems(departments: Section, proofs: Section, matters: Section) -> list[Problem]:
    """Every problem between entries, grouped by rule (the loader sorts them by file)."""
    problems = [*_duplicate_codes(departments), *_duplicate_codes(proofs), *_duplicate_codes(matters)]
    problems += _duplicate_credit_codes(departments)
    department_codes = departments.codes()
    for entry, proof in proofs.valid():
        if department_codes is not None and proof["department"] not in department_codes:
            problems.append(proofs.problem(entry, "department", f"unknown department {proof['department']!r}"))
    valid_proofs = {proof["code"]: proof for _, proof in proofs.valid()}
    for entry, matter in matters.valid():
        problems += _matter_problems(matters, entry, matter, department_codes, proofs.codes(), valid_proofs)
    return problems


def _duplicate_codes(section: Section) -> Iterator[Problem]:
    first_label: dict[str, str] = {}
    for entry in section.entries:
        if entry.code is None:
            continue
        if entry.code in first_label:
            message = f"duplicate code, already used by entry {first_label[entry.code]}"
            yield section.problem(entry, "code", message)
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


def _matter_problems(
    matters: Section,
    entry: Entry,
    matter: dict[str, Any],
    department_codes: set[str] | None,
    proof_codes: set[str] | None,
    valid_proofs: Mapping[str, dict[str, Any]],
) -> Iterator[Problem]:
    for i, consumer in enumerate(matter["consumers"]):
        if department_codes is not None and consumer not in department_codes:
            yield matters.problem(entry, f"consumers[{i}]", f"unknown department {consumer!r}")
    for i, required in enumerate(matter["proofs"]):
        path = f"proofs[{i}]"
        code = required["proof"]
        if proof_codes is not None and code not in proof_codes:
            yield matters.problem(entry, f"{path}.proof", f"unknown proof {code!r}")
            continue
        proof = valid_proofs.get(code)
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
        needed = Scope(required["scope"]).required_subject
        if needed is not None and proof["subject"] != needed:
            scope, subject = required["scope"], proof["subject"]
            message = f"scope {scope} needs a proof whose subject is {needed}, {code} has subject {subject}"
            yield matters.problem(entry, f"{path}.scope", message)
    data_items = {code: [item["name"] for item in proof["data_items"]] for code, proof in valid_proofs.items()}
    for field, message in rule_problems(matter, data_items):
        yield matters.problem(entry, field, message)
