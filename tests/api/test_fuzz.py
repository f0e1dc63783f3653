"""Generated requests from our own OpenAPI document (schemathesis), valid ones and ones that
break the document (negative mode), authenticated endpoints included: no answer is a server error, and every answer conforms to the document (status
code, media type, schema). The suite runs a bounded number of cases per operation;
`scripts/fuzz_api` runs many more (MIANZHENG_FUZZ_EXAMPLES)."""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies

from api.settings import Settings
from exchange.clients import ClientScope
from demo.data import sample_residents
from tests.api.test_certificates_api import client_token, signed_in
from tests.api.test_org_licenses import legal_person

EXAMPLES = int(os.environ.get("MIANZHENG_FUZZ_EXAMPLES", "15"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance")


@pytest.fixture
def api_schema(live_server: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live_server}/api/v1/openapi.json")


@pytest.fixture
def credentials(live_server: str, settings: Settings) -> dict[str, dict[str, str]]:
    """Headers per security scheme: a client holding every scope, a signed-in demo resident, a
    signed-in demo company."""
    token = client_token(settings, "ZJ", [scope.value for scope in ClientScope])
    return {"clientToken": {"Authorization": f"Bearer {token}"},
            "citizenAssertion": signed_in(live_server, sample_residents(settings.sources_dir, 1)[0]),
            "legalPersonAssertion": legal_person(live_server)}


def test_generated_requests(api_schema: schemathesis.BaseSchema, credentials: dict[str, dict[str, str]]) -> None:
    checks = [getattr(schemathesis.checks, name) for name in CHECKS]
    failures: dict[str, str] = {}
    requests = Counter[str]()
    for loaded in api_schema.get_all_operations():
        operation = loaded.ok()
        schemes = [name for requirement in operation.definition.raw.get("security", []) for name in requirement]
        headers = credentials[schemes[0]] if schemes else {}

        @given(case=strategies.one_of(*(operation.as_strategy(mode) for mode in schemathesis.GenerationMode)))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def generated(case: schemathesis.Case) -> None:
            requests[operation.label] += 1
            response = case.call(headers=headers)
            json_body = "json" in response.headers.get("content-type", [""])[0]
            # a JWS, QR payload, PEM or PDF body is documented as a string, not JSON
            case.validate_response(response, checks=checks if json_body else checks[:-1])

        try:
            generated()
        except (Exception, BaseExceptionGroup) as failure:  # run every operation; report all failures
            failures[operation.label] = str(failure)[:2000]
    print(f"\nfuzz: {requests.total()} generated requests over {len(requests)} operations, "
          f"{len(failures)} operation(s) failing")
    assert not failures, "\n\n".join(f"{label}:\n{failure}" for label, failure in failures.items())
