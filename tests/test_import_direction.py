"""Imports point one way, over every import statement of the product code (those inside
functions too): core <- catalog <- seals <- exchange <- api <- demo. A package imports only the
packages to its left; core, under all of them, imports none. The demo part, the outer ring, is
loaded by the product only through the one hook `api.extensions`, by name."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ("core", "catalog", "seals", "exchange", "api", "demo")
PRODUCT = ORDER[:-1]
HOOK = ROOT / "api" / "extensions.py"


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


def test_the_product_names_the_demo_part_only_in_its_one_hook() -> None:
    """No product module imports demo, and only api/extensions.py names a demo module to load
    (an import_module("demo...") or __import__ anywhere else would pass the check above)."""
    naming = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            assert "demo" not in imported_packages(path), path
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                        (node.value == "demo" or node.value.startswith("demo.")):
                    naming.append(f"{path.relative_to(ROOT)}: {node.value!r}")
    assert naming == [f"{HOOK.relative_to(ROOT)}: 'demo.extension'"]
