"""公租房 applications decided per second at 1, 4 and 8 concurrent clients, against the served
app (gunicorn, as `mianzheng serve` runs it) and the demo source departments, next to the raw
stack measured by the same load generator in the same run: a trivial endpoint (`GET /healthz`)
and one exchange pull (`POST /exchange/requests`, one proof of one person). The load generator is
wrk, each request with a request id (and an application its case number) of its own.

    python scripts/bench/applications_bench.py [--seconds 5] [--workers 2] [--database-url URL]

A fresh installation is initialised in a temporary folder (SQLite unless --database-url). Each
application is a whole household's 公租房 application with a new request id: every member's
proofs pulled in parallel (each a real exchange request: policy, consent, signed receipt,
hash-chained log entry), the applicant's commitments sealed, the rules evaluated and the
decision stored. The last column is the pulls per second that rate amounts to.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import httpx

from api.database import standalone_session
from api.secrets import SUBJECT_HASH_KEY, read_secret
from api.settings import Settings
from catalog.versions import read_live_catalog
from demo.applications import PUBLIC_RENTAL_HOUSING, public_housing_request
from exchange.clients import ClientScope, register_client
from exchange.consent import Channel, ConsentRequest, grant_consent
from exchange.subjects import subject_key
from demo.data import demo_households
from served import json_posts_lua, served_installation, wrk_load

CONCURRENCY = (1, 4, 8)
HOUSEHOLDS = 200


def main() -> None:
    with served_installation(__doc__.splitlines()[0]) as (args, settings, base):
        token, bodies = _prepare(settings)
        pulls = _pulls_per_application(base, token, bodies[0])
        print(f"one application pulls {pulls} proofs")
        print(f"{'clients':>7}  {'endpoint':<36} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  {'÷healthz':>8}"
              f"  {'÷pull':>6}  {'pulls/s':>7}")
        applications = f"{base}/api/v1/matters/{PUBLIC_RENTAL_HOUSING}/applications"
        for clients in CONCURRENCY:
            trivial = wrk_load(f"{base}/healthz", clients, args.seconds)
            pull = wrk_load(f"{base}/api/v1/exchange/requests", clients, args.seconds,
                            json_posts_lua(token, [_exchange_pull(bodies[0])]))
            applied = wrk_load(applications, clients, args.seconds, json_posts_lua(token, bodies, own_case_numbers=True))
            for name, result in (("GET /healthz", trivial), ("POST /exchange/requests", pull),
                                 ("POST /matters/…/applications", applied)):
                ratios = (f"{result.rate / trivial.rate:8.3f}  {result.rate / pull.rate:6.3f}"
                          if result is not trivial else f"{'':8}  {'':6}")
                effective = f"{result.rate * pulls:7.0f}" if result is applied else ""
                print(f"{clients:>7}  {name:<36} {result.rate:>8.1f} {result.p50:>8.1f} {result.p99:>8.1f}"
                      f"  {ratios}  {effective}")


def _prepare(settings: Settings) -> tuple[str, list[dict[str, Any]]]:
    """A token of the housing bureau's system, and one application body per eligible demo household."""
    with standalone_session(settings.database_url) as session:
        catalog = read_live_catalog(session)
        _, token = register_client(session, catalog, "ZJ", "压测系统",
                                   [ClientScope.APPLICATIONS_WRITE, ClientScope.EXCHANGE_REQUEST])
        households = demo_households(settings.sources_dir, catalog, "public_housing_eligible", HOUSEHOLDS)
        # the raw pull's subject consents online: an application's counter consents end once it is settled
        grant_consent(session, catalog, subject_key(read_secret(settings, SUBJECT_HASH_KEY), households[0].head.id_number),
                      ConsentRequest(PUBLIC_RENTAL_HOUSING, ["NO_HOUSING"], "ZJ", 30), channel=Channel.ONLINE)
    signed = datetime.now(timezone.utc).replace(microsecond=0)
    return token, [public_housing_request(household, "template", signed_at=signed) for household in households]


def _exchange_pull(body: dict[str, Any]) -> dict[str, Any]:
    """One raw exchange request: NO_HOUSING of the first household's applicant, who consented online."""
    return {"caseworker_id": "bench", "case_number": "B-1", "matter": PUBLIC_RENTAL_HOUSING, "proof": "NO_HOUSING",
            "purpose": "压测", "subject": {"id_number": body["applicant"]["id_number"], "name": body["applicant"]["name"]}}


def _pulls_per_application(base: str, token: str, body: dict[str, Any]) -> int:
    """File one application and count its pulls."""
    response = httpx.post(f"{base}/api/v1/matters/{PUBLIC_RENTAL_HOUSING}/applications", timeout=60,
                          headers={"Authorization": f"Bearer {token}"}, json={**body, "request_id": "bench-warm-up"})
    if response.status_code != 201:
        raise SystemExit(f"the warm-up application failed: HTTP {response.status_code} {response.text[:300]}")
    return sum(1 for item in response.json()["items"] if item["receipt_id"])


if __name__ == "__main__":
    main()
