"""The one door to the demo part (`demo/`): the demo data, the development identity provider and
their pages and commands. Production configuration never opens it.

The demo part is loaded only in demo/development mode — `Settings.dev_idp` (MIANZHENG_DEV_IDP,
on by default only for the embedded SQLite installation of `scripts/serve`) — and only here, by
name; no module of catalog, seals, exchange or api imports it otherwise (tests/test_import_direction.py).
The module it loads, `demo.extension`, offers:

- `development_provider(settings)`: the development identity provider, trusted by the app;
- `install(app, spec)`: its blueprints, and what the caseworker page offers (`CASEWORKER_DEMO`);
- `register_commands(cli)`: its commands (`mianzheng demo ...` and a few in other groups);
- `initialise(settings)`: what `mianzheng init` sets up for the demo, one line of report per step.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from types import ModuleType

from api.settings import Settings

DEMO_EXTENSION = "demo.extension"

CASEWORKER_DEMO = "mianzheng.caseworker_demo"
"""Key of `app.extensions` under which the demo offers the caseworker page its households: per
matter code, the household situations (key, label) to choose from; absent in production."""

CaseworkerDemo = Mapping[str, Sequence[tuple[str, str]]]


def demo_extension(settings: Settings) -> ModuleType | None:
    """The demo part when `settings` are demo/development mode, else None (it is never imported)."""
    if not settings.dev_idp:
        return None
    return importlib.import_module(DEMO_EXTENSION)
