"""Public web pages in Chinese: the landing page, the catalog (清单公开) and the pages that
document each problem type."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from catalog.views import city_constant_view, matter_selected, matter_view, proof_selected, proof_view
from api.live_catalog import live_catalog
from api.problems import PROBLEM_TYPES
from catalog.model import Domain, Mode

bp = Blueprint("pages", __name__)


QUERY_CHARS = 100
"""The catalog search reads this many characters; the box takes no more (a longer one, in UTF-8
and percent-encoded, would overrun the server's request line)."""


@bp.route("/")
def index() -> str:
    return render_template("index.html")


@bp.route("/catalog")
def catalog_page() -> str:
    """Matters → proofs → handling mode → source department → legal basis, searchable; each
    matter's options, rules, priorities, services and re-check; the city's constants."""
    live = live_catalog()
    query = request.args.get("q", "")[:QUERY_CHARS]
    domain = request.args.get("domain", "")
    mode = request.args.get("mode", "")
    filters = {"q": query, "domain": domain, "mode": mode}
    matter_views = [v for v in (matter_view(live.catalog, m) for m in live.catalog.matters.values())
                    if matter_selected(v, filters)]
    proof_views = [v for v in (proof_view(live.catalog, p) for p in live.catalog.proofs.values())
                   if proof_selected(v, filters)]
    return render_template(
        "catalog.html",
        version=live.version,
        matters=matter_views,
        proofs=proof_views,
        departments=live.catalog.departments,
        city=[city_constant_view(c) for c in live.catalog.city.values()],
        query=query,
        query_chars=QUERY_CHARS,
        domain=domain,
        mode=mode,
        domains=list(Domain),
        modes=list(Mode),
    )


@bp.route("/problems/<slug>")
def problem_page(slug: str) -> str:
    kind = PROBLEM_TYPES.get(slug)
    if kind is None:
        abort(404)
    return render_template("problem.html", kind=kind)
