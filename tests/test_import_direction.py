"""Imports point one way, over every import statement of the product code (those inside
functions too): core <- catalog <- seals <- exchange <- api. A package imports only the
packages to its left; core, under all of them, imports none."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ("core", "catalog", "seals", "exchange", "api")


def imported_packages(path: Path) -> set[str]:
    """The top-level packages of ours that the module at `path` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(ORDER)


def test_every_package_imports_only_the_packages_to_its_left() -> None:
    wrong = []
    for position, package in enumerate(ORDER):
        allowed = set(ORDER[:position + 1])
        for path in sorted((ROOT / package).rglob("*.py")):
            for imported in sorted(imported_packages(path) - allowed):
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert wrong == []
