"""公租房 while civil affairs' connector (MZ) is stopped: where the matter allows it the applicant's
commitment stands in for the marriage record and the application is decided; without one the
application waits and resumes once the connector is back; 事后核查 confirms a true commitment
and flags a false one after the connector answers again."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.database import standalone_session
from api.jobs import run_jobs
from api.settings import Settings
from demo.applications import public_housing_request
from exchange.applications.records import CommitmentRecord
from exchange.clients import ClientScope
from demo.data import DemoHousehold, DemoResident
from tests.api.test_applications import apply, housing_token, households
from tests.api.test_licenses_api import client, signed_in
from tests.support.cli import run_cli
from tests.support.connector import Connector

pytestmark = pytest.mark.slow

def _unlicensed_households(settings: Settings, base: str, count: int) -> list[DemoHousehold]:
    """Eligible households whose head's 结婚证 or 离婚证 civil affairs has revoked (issued in error),
    so the license library holds none and civil affairs' connector is the only source of the
    head's marriage record."""
    found = households(settings, "public_housing_eligible", count)
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE.value])
    for household in found:
        head = DemoResident(household.head.name, household.head.id_number, household.number, "")
        held = httpx.get(f"{base}/api/v1/me/licenses", headers=signed_in(base, head), timeout=30).json()
        for license in held:
            if license["license_type"] in ("MARRIAGE_CERTIFICATE", "DIVORCE_CERTIFICATE"):
                revoked = httpx.post(f"{base}/api/v1/licenses/{license['identifier']}/revocation", headers=mz,
                                     json={"reason": "issued_in_error"}, timeout=30)
                assert revoked.status_code == 200, revoked.text
    return found


def _read(base: str, token: str, application_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/v1/applications/{application_id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def _item(application: dict[str, Any], proof: str, party: str = "applicant") -> dict[str, Any]:
    return next(item for item in application["items"] if (item["proof"], item["party"]) == (proof, party))


def _commitment(application: dict[str, Any], proof: str) -> dict[str, Any]:
    return next(commitment for commitment in application["commitments"] if commitment["proof"] == proof)


def test_commitments_stand_in_while_civil_affairs_is_down_and_post_check_settles_them(
    settings: Settings, civil_affairs: tuple[str, Connector, dict[str, str]]
) -> None:
    base, connector, env = civil_affairs
    token = housing_token(settings)
    truthful, untruthful = _unlicensed_households(settings, base, 2)
    signed = datetime.now(timezone.utc).replace(microsecond=0)
    honest = apply(base, token, public_housing_request(truthful, "down-honest", signed_at=signed)).json()
    lying_body = public_housing_request(untruthful, "down-lying", signed_at=signed)
    marital = next(c for c in lying_body["commitments"] if c["proof"] == "MARITAL_STATUS")
    lie = "unmarried" if untruthful.head.marital_status == "married" else "married"
    marital["values"] = {"marital_status": lie, "spouse_id_number": None}
    lying_body["commitments"] = [c for c in lying_body["commitments"] if c["proof"] != "SINGLE_DECLARATION"]
    if lie == "unmarried":
        lying_body["commitments"].append({"proof": "SINGLE_DECLARATION",
                                          "values": {"declared_status": lie, "signed_at": signed.isoformat()}})
    lying = apply(base, token, lying_body).json()

    for application in (honest, lying):
        assert application["status"] == "decided", application
        marriage = _item(application, "MARITAL_STATUS")
        assert marriage["state"] == "committed" and "暂时无法应答，以告知承诺代替" in marriage["detail"]
        assert _commitment(application, "MARITAL_STATUS")["fallback"] is True
        assert _commitment(application, "MARITAL_STATUS")["status"] == "pending"
        assert _commitment(application, "HOUSING_HARDSHIP_REPORT")["status"] == "on_site"

    still_down = run_cli(env, "commitments", "verify")
    assert still_down.returncode == 0, still_down.stderr
    pending = sum(c["status"] == "pending" for application in (honest, lying) for c in application["commitments"])
    assert "不实 0 件" in still_down.stdout and f"稍后再查 {pending} 件" in still_down.stdout
    assert _commitment(_read(base, token, honest["id"]), "INCOME")["status"] == "pending"

    connector.start()
    _wait_until(_next_verification(settings))  # the retry time the run above set (the breaker's cool-down)
    checked = run_cli(env, "commitments", "verify")
    assert checked.returncode == 0, checked.stderr
    assert "稍后再查 0 件" in checked.stdout, checked.stdout
    honest_after, lying_after = _read(base, token, honest["id"]), _read(base, token, lying["id"])
    false_ids = [c["id"] for c in lying_after["commitments"] if c["status"] == "false"]
    assert f"不实 {len(false_ids)} 件" in checked.stdout and all(i in checked.stdout for i in false_ids), checked.stdout
    assert {_commitment(honest_after, proof)["status"] for proof in ("MARITAL_STATUS", "INCOME")} == {"confirmed"}
    assert honest_after["flagged"] is False and honest_after["decision"] == "eligible"
    assert _commitment(lying_after, "MARITAL_STATUS")["status"] == "false"
    assert lying_after["flagged"] is True and lying_after["decision"] == "needs_review"
    assert "婚姻" in lying_after["flag_reason"]
    listed = httpx.get(f"{base}/api/v1/commitments", params={"status": "false"},
                       headers={"Authorization": f"Bearer {token}"}).json()
    assert sorted(c["id"] for c in listed) == sorted(false_ids)


def test_without_a_commitment_the_application_waits_and_resumes(
    settings: Settings, civil_affairs: tuple[str, Connector, dict[str, str]]
) -> None:
    base, connector, env = civil_affairs
    token = housing_token(settings)
    household, committing = _unlicensed_households(settings, base, 2)
    signed_at = datetime.now(timezone.utc).replace(microsecond=0)
    body = public_housing_request(household, "down-wait", signed_at=signed_at)
    body["commitments"] = [c for c in body["commitments"] if c["proof"] != "MARITAL_STATUS"]
    response = apply(base, token, body)
    assert response.status_code == 202, response.text
    waiting = response.json()
    assert waiting["status"] == "waiting" and waiting["decision"] is None
    assert _item(waiting, "MARITAL_STATUS")["state"] == "waiting"

    # the other applicant signs the commitment once told the record cannot be had: it stands in at once
    other = public_housing_request(committing, "down-commit-later", signed_at=signed_at)
    marital = next(c for c in other["commitments"] if c["proof"] == "MARITAL_STATUS")
    other["commitments"] = [c for c in other["commitments"] if c["proof"] != "MARITAL_STATUS"]
    filed = apply(base, token, other).json()
    assert _item(filed, "MARITAL_STATUS")["state"] == "waiting"
    added = httpx.post(f"{base}/api/v1/applications/{filed['id']}/commitments", headers={"Authorization": f"Bearer {token}"},
                       json={"commitments": [marital], "signature": other["signature"]}, timeout=30)
    assert added.status_code == 200, added.text
    assert _item(added.json(), "MARITAL_STATUS")["state"] == "committed"
    assert _commitment(added.json(), "MARITAL_STATUS")["fallback"] is True
    assert added.json()["status"] == "decided"

    connector.start()
    _wait_until(datetime.fromisoformat(_item(waiting, "MARITAL_STATUS")["next_attempt_at"]))
    resumed = run_cli(env, "applications", "resume")
    assert resumed.returncode == 0, resumed.stderr
    after = _read(base, token, waiting["id"])
    assert after["status"] == "decided" and after["decision"] == "eligible"
    assert _item(after, "MARITAL_STATUS")["state"] == "resolved"
    assert _item(after, "MARITAL_STATUS")["receipt_id"]


def _next_verification(settings: Settings) -> datetime:
    """When the pending commitments are next due for 事后核查."""
    with standalone_session(settings.database_url) as session:
        due = session.scalar(select(func.max(CommitmentRecord.next_verify_at)))
    assert due is not None
    return due


def _wait_until(moment: datetime) -> None:
    """Let the wall clock reach `moment` (at most the 1 s cool-down here): the CLI runs on it."""
    time.sleep(max(0.0, (moment - datetime.now(timezone.utc)).total_seconds()))


def test_the_scheduled_jobs_resume_a_waiting_application_once_the_source_is_back(
    settings: Settings, civil_affairs: tuple[str, Connector, dict[str, str]], tmp_path: Path
) -> None:
    base, connector, env = civil_affairs
    token = housing_token(settings)
    [household] = _unlicensed_households(settings, base, 1)
    body = public_housing_request(household, "down-job", signed_at=datetime.now(timezone.utc).replace(microsecond=0))
    body["commitments"] = [c for c in body["commitments"] if c["proof"] != "MARITAL_STATUS"]
    waiting = apply(base, token, body).json()
    assert waiting["status"] == "waiting"
    connector.start()
    stop = threading.Event()
    jobs = threading.Thread(target=run_jobs, args=(
        dataclasses.replace(settings, sources_file=Path(env["MIANZHENG_SOURCES_FILE"])), 0.3, stop))
    jobs.start()
    try:
        deadline = time.monotonic() + 90
        while (after := _read(base, token, waiting["id"]))["status"] != "decided" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert after["status"] == "decided" and after["decision"] == "eligible"
        while _pending_commitments(checked := _read(base, token, waiting["id"])) and time.monotonic() < deadline:
            time.sleep(0.3)  # then the jobs go on to 事后核查
    finally:
        stop.set()
        jobs.join(timeout=60)
    assert not _pending_commitments(checked), checked["commitments"]


def _pending_commitments(application: dict[str, Any]) -> list[dict[str, Any]]:
    return [commitment for commitment in application["commitments"] if commitment["status"] == "pending"]
