"""公租房 settles the applicant's 婚姻状况 from the license library (the matter handles the proof as
an e-license): the housing bureau applies for a demo household over real HTTP; while the
applicant holds no 结婚证 the civil affairs bureau's records answer, and once the bureau issues
one over the API, the next application reads it and names the license version it came from."""

from __future__ import annotations

import httpx

from api.settings import Settings
from demo.applications import public_housing_request
from exchange.clients import ClientScope
from tests.api.test_applications import apply, housing_token, households, now
from tests.api.test_licenses_api import client, signed_in


def marital_item(application: dict) -> dict:
    return next(item for item in application["items"] if item["proof"] == "MARITAL_STATUS")


def test_public_housing_reads_marital_status_from_the_license_with_provenance(settings: Settings,
                                                                            live_server: str) -> None:
    household = next(h for h in households(settings, "public_housing_eligible", 6) if h.head.marital_status == "married")
    head = household.head
    spouse = next(m for m in household.members if m.id_number == head.spouse_id_number)
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    token = housing_token(settings)

    # holding no 结婚证 (the demo one revoked), the civil affairs bureau's records answer
    wallet = httpx.get(f"{live_server}/api/v1/me/licenses", headers=signed_in(live_server, head)).json()
    for held in wallet:
        if held["license_type"] == "MARRIAGE_CERTIFICATE":
            revoked = httpx.post(f"{live_server}/api/v1/licenses/{held['identifier']}/revocation", headers=mz,
                                 json={"reason": "issued_in_error"}, timeout=30)
            assert revoked.status_code == 200, revoked.text
    before = apply(live_server, token, public_housing_request(household, "gzf-lic-1", signed_at=now())).json()
    from_records = marital_item(before)
    assert (from_records["state"], from_records["department"], from_records["license"]) == ("resolved", "MZ", None)
    assert from_records["values"]["marital_status"] == "married"

    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, timeout=30, json={
        "license_type": "MARRIAGE_CERTIFICATE", "reference": "MZ-GZF-000001",
        "holder": {"name": head.name, "id_number": head.id_number},
        "items": {"certificate_no": "J330702-2019-000777", "full_name": head.name, "id_number": head.id_number,
                  "marital_status": "married", "registration_date": "2019-10-01", "spouse_name": spouse.name,
                  "spouse_id_number": spouse.id_number, "registration_authority": "金华市婺城区民政局"}})
    assert issued.status_code == 201, issued.text
    identifier = issued.json()["identifier"]
    response = apply(live_server, token, public_housing_request(household, "gzf-lic-2", signed_at=now()))
    assert response.status_code == 201, response.text
    application = response.json()
    item = marital_item(application)
    assert (item["state"], item["mode"], item["license"]) == ("resolved", "e_license", identifier), item
    assert item["values"] == {"marital_status": "married", "spouse_id_number": spouse.id_number}
    states = {i["proof"]: i["state"] for i in application["items"]}
    assert states["SINGLE_DECLARATION"] == "not_required"  # settled by the license: married
    spouse_rule = next(r for r in application["decision_detail"]["rules"] if r["code"] == "spouse_in_household")
    assert spouse_rule["result"] is True  # read from the license: the spouse is among the members
    assert [note for note in application["decision_detail"]["notes"] if "重复申请" not in note] == []  # filed twice here
    counted = {row["license_type"]: row for row in httpx.get(f"{live_server}/api/v1/statistics/licenses").json()}
    assert counted["MARRIAGE_CERTIFICATE"]["used_by_matter"] == {"PUBLIC_RENTAL_HOUSING": 1}  # the second application
