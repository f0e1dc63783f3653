"""Reading a catalog and rejecting it as a whole when anything in it is wrong.

A catalog is a directory with `departments.yaml`, `proofs.yaml`, `matters.yaml` and, optionally,
`city.yaml` and `licenses.yaml` (each a list of entries), or one JSON or YAML document whose
top-level keys `departments`, `proofs`, `matters` and, optionally, `city` and `licenses` hold those lists. Every problem is
collected (syntax, schema, cross-references, expressions) and raised together as
`CatalogInvalid`; nothing is returned unless the whole catalog is valid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError

from catalog import bounded_json
from catalog.errors import CatalogInvalid, Problem
from catalog.model import Catalog
from catalog.references import Entry, Section, license_problems, reference_problems
from catalog.schemas import CityConstantSchema, DepartmentSchema, LicenseTypeSchema, MatterSchema, ProofSchema

SECTIONS = ("departments", "proofs", "matters", "city", "licenses")
OPTIONAL_SECTIONS = frozenset({"city", "licenses"})
"""Sections that may be left out: an absent one is empty."""
_REPORTED = object()  # stands for a section that could not be read; the reason is already reported
_SCHEMAS: dict[str, Schema] = {
    "departments": DepartmentSchema(),
    "proofs": ProofSchema(),
    "matters": MatterSchema(),
    "city": CityConstantSchema(),
    "licenses": LicenseTypeSchema(),
}
_KEYS = {"city": "name"}  # the field that names an entry, where it is not `code`
_EXPECTED = "expected departments, proofs, matters and optionally city and licenses"


def bundled_catalog_path() -> Path:
    """The directory of the catalog shipped with mianzheng (catalog/data)."""
    return Path(__file__).parent / "data"


def load_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Load and validate the catalog at `path` (a directory or a single document file)."""
    path = Path(path)
    if path.is_dir():
        problems: list[Problem] = []
        raw = {section: _read_section_file(path / f"{section}.yaml", section, problems) for section in SECTIONS}
        return _validated(raw, {section: f"{section}.yaml" for section in SECTIONS}, problems)
    if not path.is_file():
        raise CatalogInvalid([Problem(str(path), None, None, "no such file or directory")])
    problems = []
    document = _read_document_file(path, problems)
    if document is _REPORTED:
        raise CatalogInvalid(problems)
    return catalog_from_document(document, source=path.name)


def catalog_from_document(document: Any, *, source: str = "document") -> Catalog:
    """Validate a whole catalog given as one document (e.g. read back from the database).

    Problems name the section as `source[section]`, e.g. `document[proofs]`.
    """
    if not isinstance(document, Mapping):
        raise CatalogInvalid([Problem(source, None, None, f"expected a mapping of sections, got {_kind(document)}")])
    problems = [
        Problem(source, None, None, f"unknown section {key!r}; {_EXPECTED}") for key in document if key not in SECTIONS
    ]
    missing = [section for section in SECTIONS if section not in document and section not in OPTIONAL_SECTIONS]
    problems += [Problem(source, None, None, f"missing section {section!r}") for section in missing]
    raw = {section: document.get(section, []) for section in SECTIONS if section not in missing}
    return _validated(raw, {section: f"{source}[{section}]" for section in SECTIONS}, problems)


def _validated(raw: Mapping[str, Any], files: Mapping[str, str], problems: list[Problem]) -> Catalog:
    """Check the raw sections (absent: already reported) and build the catalog, or raise."""
    sections = {
        section: _checked_section(files[section], section, raw.get(section, _REPORTED), problems)
        for section in SECTIONS
    }
    problems += reference_problems(sections["departments"], sections["proofs"], sections["matters"], sections["city"])
    problems += license_problems(sections["licenses"], sections["departments"], sections["proofs"], sections["matters"])
    if problems:
        raise CatalogInvalid(sorted(problems, key=_file_order(sections)))
    return Catalog.from_document(
        {section: [entry.data for entry in sections[section].entries] for section in SECTIONS}
    )


def _file_order(sections: Mapping[str, Section]) -> Callable[[Problem], tuple[int, int]]:
    """Sort key: problems of the whole input first, then by section, then by entry."""
    position = {
        (section.file, entry.label): (number, entry.index)
        for number, section in enumerate(sections.values())
        for entry in section.entries
    }
    files = {section.file: number for number, section in enumerate(sections.values())}
    return lambda problem: position.get((problem.file, problem.entry), (files.get(problem.file, -1), -1))


def _checked_section(file: str, section: str, raw: Any, problems: list[Problem]) -> Section:
    key = _KEYS.get(section, "code")
    if raw is _REPORTED:
        return Section(file, [], readable=False, key=key)
    if not isinstance(raw, list):
        problems.append(Problem(file, None, None, f"expected a list of {section}, got {_kind(raw)}"))
        return Section(file, [], readable=False, key=key)
    entries = []
    for index, item in enumerate(raw):
        code = item.get(key) if isinstance(item, dict) else None
        code = code if isinstance(code, str) and code else None
        label = code or f"[{index}]"
        data = None
        if not isinstance(item, dict):
            problems.append(Problem(file, label, None, f"expected a mapping, got {_kind(item)}"))
        else:
            try:
                data = _SCHEMAS[section].load(item)
            except ValidationError as error:
                problems += [Problem(file, label, field, message) for field, message in _flatten(error.messages)]
        entries.append(Entry(index=index, label=label, code=code, data=data))
    return Section(file, entries, key=key)


def _flatten(messages: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | None, str]]:
    """marshmallow's nested error messages as (field path, message) pairs."""
    if isinstance(messages, dict):
        return [
            pair
            for key, value in messages.items()
            for pair in _flatten(value, path if key == "_schema" else (*path, key))
        ]
    if isinstance(messages, list):
        return [pair for message in messages for pair in _flatten(message, path)]
    rendered = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    return [(rendered or None, str(messages))]


def _read_section_file(path: Path, section: str, problems: list[Problem]) -> Any:
    """The parsed content of one section file (an absent optional one is empty), or _REPORTED
    after reporting why not."""
    if not path.is_file():
        if section in OPTIONAL_SECTIONS:
            return []
        problems.append(Problem(path.name, None, None, "missing file"))
        return _REPORTED
    return _parse(path, problems)


def _read_document_file(path: Path, problems: list[Problem]) -> Any:
    if path.suffix not in (".json", ".yaml", ".yml"):
        problems.append(Problem(path.name, None, None, "expected a .json, .yaml or .yml file"))
        return _REPORTED
    return _parse(path, problems)


def _parse(path: Path, problems: list[Problem]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(path.name, None, None, "is not UTF-8 text"))
        return _REPORTED
    except OSError as error:
        problems.append(Problem(path.name, None, None, f"cannot be read: {error.strerror}"))
        return _REPORTED
    if path.suffix == ".json":
        try:
            return bounded_json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(
                Problem(path.name, None, None, f"line {error.lineno}, column {error.colno}: invalid JSON: {error.msg}")
            )
            return _REPORTED
        except ValueError as error:  # JsonTooComplex, or an integer too long to convert
            problems.append(Problem(path.name, None, None, f"invalid JSON: {error}"))
            return _REPORTED
    try:
        return yaml.load(text, Loader=_StrictYamlLoader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as error:
        problems.append(Problem(path.name, None, None, _yaml_message(error)))
        return _REPORTED
    except RecursionError:  # the composer recurses once per level: deeper than any catalog
        problems.append(Problem(path.name, None, None, "invalid YAML: nested too deeply"))
        return _REPORTED


class _StrictYamlLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated in one mapping instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_message(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {problem}"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    for kind, name in ((bool, "a boolean"), (Mapping, "a mapping"), (list, "a list"), (str, "a string")):
        if isinstance(value, kind):
            return name
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__
