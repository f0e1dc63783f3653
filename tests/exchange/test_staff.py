"""Staff assertions: a valid one yields the staff member acting for their department with their
role's scopes; a citizen's assertion, another audience, an unknown role, a too long or expired
assertion and a foreign signature are refused with a reason. Real ES256 keys throughout."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from exchange.clients import ClientScope
from demo.identity_provider import DEV_ISSUER, DemoStaff, DevIdentityProvider, issue_dev_staff_assertion
from exchange.identity import InvalidAssertion
from exchange.staff import STAFF_AUDIENCE, verify_staff_assertion

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
STAFF = DemoStaff("ZJ-0001", "王晓燕", "ZJ")


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> DevIdentityProvider:
    return DevIdentityProvider.open(tmp_path_factory.mktemp("var") / "dev-idp")


def _signed(idp: DevIdentityProvider, **change: Any) -> str:
    issued = int(NOW.timestamp())
    claims = {"iss": DEV_ISSUER, "aud": STAFF_AUDIENCE, "sub": "s-1", "name": "王晓燕", "staff_number": "ZJ-0001",
              "department": "ZJ", "role": "caseworker", "iat": issued, "exp": issued + 600, **change}
    return jwt.encode({"alg": "ES256", "kid": idp.signing_key.kid}, claims, idp.signing_key, algorithms=["ES256"])


def test_a_staff_member_acts_for_their_department_with_their_roles_scopes(idp: DevIdentityProvider) -> None:
    staff = verify_staff_assertion(issue_dev_staff_assertion(idp, STAFF, now=NOW), idp.public_keys, DEV_ISSUER, now=NOW)
    assert (staff.name, staff.staff_number, staff.department, staff.role) == ("王晓燕", "ZJ-0001", "ZJ", "caseworker")
    assert staff.caseworker_id == "王晓燕（工号 ZJ-0001）"
    client = staff.as_client()
    assert client.department_code == "ZJ" and client.client_id == "staff:ZJ:ZJ-0001"
    assert client.has_scope(ClientScope.APPLICATIONS_WRITE) and not client.has_scope(ClientScope.EXCHANGE_REQUEST)


@pytest.mark.parametrize(("change", "reason"), [
    ({"aud": "mianzheng"}, "wrong-audience"),  # a citizen's audience
    ({"role": "director"}, "unknown-role"),
    ({"department": None}, "missing-claim"),
    ({"exp": int((NOW + timedelta(hours=2)).timestamp())}, "lifetime-too-long"),
    ({"iat": int((NOW - timedelta(minutes=30)).timestamp()), "exp": int((NOW - timedelta(minutes=5)).timestamp())},
     "expired"),
    ({"staff_number": "x" * 33}, "malformed"),
    ({"iss": "urn:elsewhere"}, "wrong-issuer"),
])
def test_bad_staff_assertions_are_refused_with_a_reason(idp: DevIdentityProvider, change: dict[str, Any],
                                                        reason: str) -> None:
    with pytest.raises(InvalidAssertion) as refused:
        verify_staff_assertion(_signed(idp, **change), idp.public_keys, DEV_ISSUER, now=NOW)
    assert refused.value.reason == reason


def test_a_citizen_assertion_is_not_a_staff_one(idp: DevIdentityProvider) -> None:
    citizen = idp.issue_dev_assertion("11010519491231002X", "张三", now=NOW)
    with pytest.raises(InvalidAssertion) as refused:
        verify_staff_assertion(citizen, idp.public_keys, DEV_ISSUER, now=NOW)
    assert refused.value.reason == "wrong-audience"  # meant for the citizen portal, not for staff


def test_a_foreign_signature_is_refused(idp: DevIdentityProvider) -> None:
    stranger = DevIdentityProvider(signing_key=ECKey.generate_key("P-256", auto_kid=True))
    with pytest.raises(InvalidAssertion) as refused:
        verify_staff_assertion(issue_dev_staff_assertion(stranger, STAFF, now=NOW), idp.public_keys, DEV_ISSUER,
                               now=NOW)
    assert refused.value.reason == "unknown-key"
