"""pyproject.toml declares exactly what the code imports: every third-party import of the four
packages is a declared dependency and every dependency is imported (or named below with why it
is needed without an import); the same for the suite and the dev extra. constraints.txt pins
every declared dependency at or above its floor."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "catalog", "seals", "exchange", "api", "demo")
# Needed at run time without an import statement of ours:
NOT_IMPORTED = {
    "psycopg": "SQLAlchemy loads it for postgresql:// URLs",
    "pytest-xdist": "pytest's -n option (scripts/test)",
    "rl-accel": "reportlab's C accelerator (number formatting, base85), which reportlab imports when installed",
}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _imported_distributions(folders: list[Path]) -> set[str]:
    """The distributions whose modules the Python files under `folders` import (also through
    pytest.importorskip), by normalised name."""
    own = set(PACKAGES) | {"tests"}
    modules: set[str] = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
                elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                      and node.func.attr == "importorskip" and node.args
                      and isinstance(node.args[0], ast.Constant)):
                    modules.add(str(node.args[0].value).split(".")[0])
    third_party = {m for m in modules if m not in sys.stdlib_module_names and m not in own}
    owners = packages_distributions()
    unknown = sorted(m for m in third_party if m not in owners)
    assert not unknown, f"imported but installed by no distribution: {unknown}"
    return {_normal(dist) for module in third_party for dist in owners[module]}


def test_service_dependencies_are_exactly_what_the_packages_import() -> None:
    declared = {_normal(_name(r)) for r in _project()["dependencies"]}
    imported = _imported_distributions([ROOT / p for p in PACKAGES])
    assert sorted(imported - declared) == [], "imported but not declared"
    assert sorted(declared - imported - set(NOT_IMPORTED)) == [], "declared but not imported"


def test_dev_extra_is_exactly_what_the_suite_adds() -> None:
    project = _project()
    service = {_normal(_name(r)) for r in project["dependencies"]}
    dev = {_normal(_name(r)) for r in project["optional-dependencies"]["dev"]}
    imported = _imported_distributions([ROOT / "tests"])
    assert sorted(imported - service - dev) == [], "imported by the suite but not declared"
    assert sorted(dev - imported - set(NOT_IMPORTED)) == [], "in the dev extra but not imported"


def test_constraints_pin_every_dependency_at_or_above_its_floor() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_normal(name)] = tuple(int(part) for part in re.findall(r"\d+", version)[:3])
    project = _project()
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        name = _normal(_name(requirement))
        assert name in pins, f"{name} is not pinned in constraints.txt"
        floor = re.search(r">=\s*([\d.]+)", requirement)
        assert floor is not None, f"{requirement} has no floor"
        assert pins[name] >= tuple(int(part) for part in floor.group(1).split(".")), requirement
