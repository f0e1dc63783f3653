"""The Flask app factory: settings, database, blueprints per audience, the OpenAPI
document, the interactive API docs (served from local assets, so they work on a closed
government network) and problem+json for every error."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, send_from_directory
from flask_swagger_ui import get_swaggerui_blueprint
from werkzeug.routing import IntegerConverter

from api.auth import document_security_schemes
from api.openapi import ApiSpec
from api.problems import register_problem_handlers
from api.request_limits import register_request_limits
from api.security_headers import register_security_headers
from api.domain_errors import register_domain_errors
from api.metrics import install_metrics
from api.extensions import demo_extension
from api.routes import (applications_api, caseworker_pages, catalog_api, certificates_api, exchange_api,
                        health, me_api, pages, portal_pages, statistics_api, statistics_pages, trust_api, verify_pages)
from api.routes import license_pages, licenses_api, org_licenses
from api.legal_person_auth import document_legal_person_scheme
from api.runtime import Runtime, close_request_session
from api.site import site_context
from api.staff_session import register_staff_sessions
from api.settings import Settings
from catalog.city_time import beijing_time

API_PREFIX = "/api/v1"


class AsciiIntegerConverter(IntegerConverter):
    """Werkzeug's `int` converter matches any Unicode digit (１, ٥) and leading zeros; a path's
    number is 0-9, written once (list 1 is /1, not /01 as well)."""

    regex = r"0|[1-9][0-9]*"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the WSGI app for `settings` (default: from the environment)."""
    settings = settings or Settings.from_environment()
    app = Flask(__name__)
    app.url_map.converters["int"] = AsciiIntegerConverter  # before any route: /status-lists/１ is no list
    app.config.update(
        API_TITLE="mianzheng 免证 — proof-free city data exchange",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.add_template_filter(beijing_time)
    app.context_processor(site_context)
    app.extensions["mianzheng"] = Runtime.start(settings)
    install_metrics(app)
    app.teardown_appcontext(close_request_session)

    spec = ApiSpec(app, spec_kwargs={"info": {"description": _API_DESCRIPTION}})
    document_security_schemes(spec)
    document_legal_person_scheme(spec)
    for blueprint in (health.blp, catalog_api.blp, trust_api.blp, exchange_api.blp, me_api.blp,
                      certificates_api.blp, applications_api.blp, statistics_api.blp, licenses_api.blp):
        spec.register_blueprint(blueprint)
    spec.register_blueprint(org_licenses.blp)
    demo = demo_extension(settings)
    if demo is not None:  # 开发测试用身份认证 and the demo: never in production (docs/operations.md)
        demo.install(app, spec)
    for page_blueprint in (pages.bp, portal_pages.bp, verify_pages.bp, statistics_pages.bp, caseworker_pages.bp,
                           license_pages.bp):
        app.register_blueprint(page_blueprint)
    # the interactive docs: a current Swagger UI, its assets served from the package
    app.register_blueprint(get_swaggerui_blueprint(f"{API_PREFIX}/docs", f"{API_PREFIX}/openapi.json",
                                                   config={"app_name": app.config["API_TITLE"]}))
    register_request_limits(app)
    register_staff_sessions(app)  # after the request limits: it may read a form
    register_security_headers(app)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    register_problem_handlers(app)  # after the spec, so ours replace flask-smorest's handler
    register_domain_errors(app)
    return app


def _favicon():  # type: ignore[no-untyped-def]
    """The city's mark for browsers that ask for /favicon.ico (pages link the same SVG)."""
    return send_from_directory(Path(__file__).parent / "static", "favicon.svg", mimetype="image/svg+xml",
                               max_age=86400)


_API_DESCRIPTION = (
    "The exchange of a proof-free city (无证明城市): the published data catalog, and the "
    "endpoints through which departments pull proof data, citizens get sealed e-certificates "
    "and verifiers check them. Every error is an RFC 9457 problem document."
)
