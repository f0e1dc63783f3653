"""Routes are edges, not libraries: no module under api/routes imports another route module
(anywhere in it, function-level imports too). What two routes share lives outside api/routes
(`api.presenters`, `api.portal_session`, `api.domain_errors`, `api.labels`, ...) or in the inner
packages."""

from __future__ import annotations

import ast
from pathlib import Path

ROUTES = Path(__file__).resolve().parents[2] / "api" / "routes"


def route_imports(path: Path) -> set[str]:
    """The modules of api.routes that the module at `path` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("api.routes"))
        elif isinstance(node, ast.ImportFrom):
            if node.level > 0:
                found.add("." * node.level + (node.module or ""))
            elif node.module == "api.routes":
                found.update(f"api.routes.{alias.name}" for alias in node.names)
            elif node.module and node.module.startswith("api.routes."):
                found.add(node.module)
    return found


def test_no_route_module_imports_another() -> None:
    modules = sorted(path for path in ROUTES.glob("*.py") if path.name != "__init__.py")
    assert len(modules) > 10
    wrong = {path.name: sorted(imported) for path in modules if (imported := route_imports(path))}
    assert wrong == {}


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    module = tmp_path / "route.py"
    module.write_text("import api.routes.me_api\n"
                      "def view():\n"
                      "    from api.routes.portal_pages import home\n"
                      "    from api.routes import pages\n"
                      "    from . import trust_api\n", encoding="utf-8")
    assert route_imports(module) == {"api.routes.me_api", "api.routes.portal_pages", "api.routes.pages", "."}
