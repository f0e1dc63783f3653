"""The demo part's one entry point, loaded by `api.extensions` in demo/development mode only
(MIANZHENG_DEV_IDP): the development identity provider, its sign-in pages, the caseworker page's
demo households, the demo's commands and what `mianzheng init` sets up for it. Nothing of the
product imports this package; it imports the product.
"""

from __future__ import annotations

from flask import Flask

from api.cli.lazy_group import LazyCommand, LazyGroup
from api.extensions import CASEWORKER_DEMO
from api.openapi import ApiSpec
from api.settings import Settings
from demo import caseworker, setup
from demo.identity_provider import DevIdentityProvider
from demo.routes import dev_idp, dev_idp_legal_person, dev_idp_staff


def development_provider(settings: Settings) -> DevIdentityProvider:
    """The development identity provider, its key under var/dev-idp/ (generated on first use)."""
    return DevIdentityProvider.open(settings.dev_idp_dir)


def install(app: Flask, spec: ApiSpec) -> None:
    """The development sign-in pages and API, and the caseworker page's demo households."""
    spec.register_blueprint(dev_idp.blp)
    spec.register_blueprint(dev_idp_legal_person.dev_blp)
    for blueprint in (dev_idp.bp, dev_idp_staff.bp, caseworker.bp):
        app.register_blueprint(blueprint)
    app.extensions[CASEWORKER_DEMO] = caseworker.CASEWORKER_DEMO


def register_commands(cli: LazyGroup) -> None:
    """`mianzheng demo ...`, `mianzheng recheck enrol-demo` and `mianzheng license demo-export`."""
    cli.add_lazy("demo", LazyCommand("demo.cli", "demo_group", "演示数据：各数据源部门自己的数据库（确定性生成）。"))
    cli.add_lazy("enrol-demo", LazyCommand("demo.cli", "enrol_demo_command", ""), group="recheck")
    cli.add_lazy("demo-export", LazyCommand("demo.cli", "demo_export_command", ""), group="license")


def initialise(settings: Settings) -> list[str]:
    """What `mianzheng init` sets up for the demo (`demo.setup`), one line per step."""
    return setup.initialise(settings)
