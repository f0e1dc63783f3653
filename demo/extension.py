"""The demo part's one entry point, loaded by `api.extensions` in demo/development mode only
(MIANZHENG_DEV_IDP): the development identity provider, its sign-in pages, the caseworker page's
demo households, the demo's commands and what `mianzheng init` sets up for it. Nothing of the
product imports this package; it imports the product.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.cli.lazy_group import LazyCommand, LazyGroup
from api.settings import Settings

if TYPE_CHECKING:  # the web and set-up parts load only when used: every command line run reads this module
    from flask import Flask

    from api.openapi import ApiSpec
    from demo.identity_provider import DevIdentityProvider


def development_provider(settings: Settings) -> DevIdentityProvider:
    """The development identity provider, its key under var/dev-idp/ (generated on first use)."""
    from demo.identity_provider import DevIdentityProvider

    return DevIdentityProvider.open(settings.dev_idp_dir)


def install(app: Flask, spec: ApiSpec) -> None:
    """The development sign-in pages and API, and the caseworker page's demo households."""
    from api.extensions import CASEWORKER_DEMO
    from demo import caseworker
    from demo.routes import dev_idp, dev_idp_legal_person, dev_idp_staff

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
    from demo import setup

    return setup.initialise(settings)
