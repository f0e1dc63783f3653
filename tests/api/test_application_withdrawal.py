"""A department withdraws an application filed by mistake or given up by the applicant, over
real HTTP: it stops where it is, nothing resumes it, its tasks and commitments are closed to
new input, the citizen's consents for it end, and a new filing of the same household is not
taken for a duplicate of it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from api.database import standalone_session
from api.settings import Settings
from demo.applications import public_housing_request
from exchange.applications.records import Application, ApplicationItem
from exchange.consent import Consent
from tests.api.test_applications import apply, housing_token, households, now
from tests.api.test_matters import envelope, file, minimum_living_waiting_for_the_community, person
from tests.support.cli import cli_environment, run_cli


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def withdraw(base: str, token: str, application_id: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/applications/{application_id}/withdrawal", headers=_bearer(token), timeout=30)


def read(base: str, token: str, application_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/v1/applications/{application_id}", headers=_bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def _running_consents(settings: Settings, application_id: str) -> int:
    with standalone_session(settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(Consent).where(
            Consent.application_id == application_id, Consent.expires_at > datetime.now(timezone.utc))) or 0


def waiting_application(settings: Settings, base: str, token: str, request_id: str) -> tuple[dict[str, Any], Any]:
    """A 公租房 application filed without its income commitment: it waits for the applicant."""
    household = next(h for h in households(settings, "public_housing_eligible", 12)
                     if any(member.relation == "spouse" for member in h.members))
    body = public_housing_request(household, request_id, signed_at=now())
    body["commitments"] = [c for c in body["commitments"] if c["proof"] != "INCOME"]
    filed = apply(base, token, body)
    assert filed.status_code == 202 and filed.json()["status"] == "waiting", filed.text
    return filed.json(), household


def test_a_department_withdraws_an_application_and_files_the_household_again(settings: Settings,
                                                                            live_server: str) -> None:
    token = housing_token(settings)
    application, household = waiting_application(settings, live_server, token, "gzf-withdrawn")
    from tests.api.test_exchange_requests import assertion

    applicant = household.members[0]
    waiting = httpx.get(f"{live_server}/portal/consents", cookies={"mz_identity": assertion(live_server, applicant)}).text
    assert "（申请办结即结束）" in waiting  # its 有效期至 is a bound: the consent ends with the application
    withdrawn = withdraw(live_server, token, application["id"])
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn" and withdrawn.json()["status_zh"] == "已撤回"
    at = withdrawn.json()["withdrawn_at"]
    assert datetime.fromisoformat(at) > datetime.now(timezone.utc) - timedelta(minutes=1)
    assert read(live_server, token, application["id"])["status"] == "withdrawn"

    again = withdraw(live_server, token, application["id"])  # a retry after a lost answer
    assert again.status_code == 200 and again.json()["withdrawn_at"] == at

    income = next(c for c in public_housing_request(household, "x", signed_at=now())["commitments"]
                  if c["proof"] == "INCOME")
    late = httpx.post(f"{live_server}/api/v1/applications/{application['id']}/commitments", headers=_bearer(token),
                      json={"commitments": [income], "signature": {"channel": "counter"}}, timeout=30)
    assert late.status_code == 409 and late.json()["type"] == "/problems/conflict", late.text
    assert read(live_server, token, application["id"])["status"] == "withdrawn"

    env = cli_environment(settings.database_url, settings.var_dir)
    with standalone_session(settings.database_url) as session:  # a source back after a pause: its item is due
        session.execute(update(ApplicationItem).where(ApplicationItem.application_id == application["id"],
                                                      ApplicationItem.proof == "INCOME")
                        .values(state="waiting", next_attempt_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
        session.commit()
    assert "已重新核验 0 件申请" in run_cli(env, "applications", "resume").stdout
    assert read(live_server, token, application["id"])["status"] == "withdrawn"
    assert [c["status"] for c in read(live_server, token, application["id"])["commitments"]] == ["on_site"]
    assert _running_consents(settings, application["id"]) == 0  # no source has a commitment of it to check
    # the applicant sees the counter consent ended with the application, not "expired" a minute after it was given
    signed = assertion(live_server, applicant)
    mine = httpx.get(f"{live_server}/api/v1/me/consents", headers=_bearer(signed)).json()
    assert [(c["status"], c["ends_with_application"]) for c in mine] == [("expired", True)], mine
    page = httpx.get(f"{live_server}/portal/consents", cookies={"mz_identity": signed}).text
    assert "已结束（申请已办结）" in page and "已到期" not in page

    refiled = apply(live_server, token, public_housing_request(household, "gzf-refiled", signed_at=now()))
    assert refiled.status_code == 201, refiled.text
    assert refiled.json()["decision"] == "eligible", refiled.json()["decision_detail"]["notes"]


def test_only_the_filing_department_withdraws(settings: Settings, live_server: str) -> None:
    """The insurance bureau has a part in the newborn bundle and reads it; only public security,
    which filed it, may withdraw it. A department with no part does not see it at all. Decided
    eligible, it is concluded: not even public security withdraws it."""
    [household] = households(settings, "newborn")
    baby = next(member for member in household.members if member.age == 0 and member.relation == "child")
    application = file(live_server, housing_token(settings, "GA"), "NEWBORN_BIRTH",
                       envelope("newborn-withdraw", household.head, members=[person(m) for m in household.members[1:]],
                                child=person(baby)))
    part = withdraw(live_server, housing_token(settings, "YB"), application["id"])
    assert part.status_code == 403 and part.json()["type"] == "/problems/forbidden-by-policy", part.text
    assert withdraw(live_server, housing_token(settings, "JY"), application["id"]).status_code == 404
    assert read(live_server, housing_token(settings, "GA"), application["id"])["status"] == "decided"
    concluded = withdraw(live_server, housing_token(settings, "GA"), application["id"])  # the parts may act on it
    assert concluded.status_code == 409 and application["decision"] == "eligible", concluded.text


def test_a_bundle_with_a_part_decided_eligible_is_not_withdrawn(settings: Settings, live_server: str) -> None:
    """新生儿出生一件事 claiming maternity benefits for a mother the insurance bureau does not
    insure: that part needs review while the hukou and the social security card are decided
    eligible, and their departments act on them. The bundle is concluded for them: withdrawing
    it is refused, and the other parent's filing for the same child is named to its caseworker."""
    ga = housing_token(settings, "GA")
    for household in households(settings, "newborn", 12):
        baby = next(member for member in household.members if member.age == 0 and member.relation == "child")
        mother = next((member for member in household.members if member.relation == "spouse"), None)
        if mother is None:
            continue
        application = file(live_server, ga, "NEWBORN_BIRTH", envelope(
            f"newborn-mixed-{baby.id_number[-4:]}", household.head, child=person(baby),
            options={"maternity_claim": True}))
        parts = {s["code"]: s["outcome"] for s in application["decision_detail"]["services"]}
        if application["decision"] == "needs_review" and "eligible" in parts.values():
            break
    else:
        pytest.fail("no demo newborn household with a part needing review and another eligible")
    refused = withdraw(live_server, ga, application["id"])
    assert refused.status_code == 409 and "retry-after" not in refused.headers, refused.text
    assert read(live_server, ga, application["id"])["status"] == "decided"
    by_mother = file(live_server, housing_token(settings, "RS"), "NEWBORN_BIRTH", envelope(
        "newborn-mixed-mother", mother, child=person(baby)))
    assert by_mother["decision"] == "needs_review" and any(
        application["case_number"] in note for note in by_mother["decision_detail"]["notes"]), by_mother


def test_an_application_found_to_rest_on_a_false_commitment_is_not_withdrawn(settings: Settings,
                                                                             live_server: str) -> None:
    """Decided eligible on an understated income, then 事后核查 finds the commitment false: the
    application is flagged and back to needs_review, for the department to deal with. It is not
    withdrawn (which would drop it from the caseworker's queue and let the household file again
    as if nothing were)."""
    token = housing_token(settings)
    household = households(settings, "public_housing_eligible", 12)[3]
    filed = apply(live_server, token, public_housing_request(household, "gzf-false-income", signed_at=now(),
                                                             declared_income_change=Decimal(-500)))
    assert filed.json()["decision"] == "eligible", filed.text
    assert run_cli(cli_environment(settings.database_url, settings.var_dir), "commitments", "verify").returncode == 0
    flagged = read(live_server, token, filed.json()["id"])
    assert flagged["flagged"] and flagged["decision"] == "needs_review", flagged
    refused = withdraw(live_server, token, filed.json()["id"])
    assert refused.status_code == 409 and "retry-after" not in refused.headers, refused.text
    assert read(live_server, token, filed.json()["id"])["status"] == "decided"


def test_a_withdrawal_while_a_process_resolves_the_application_is_a_conflict(settings: Settings,
                                                                            live_server: str) -> None:
    """Another process holds the application's lease (it is pulling for it): the withdrawal is
    refused with a time to try again, and changes nothing; once the lease runs out it goes through."""
    token = housing_token(settings)
    application, _ = waiting_application(settings, live_server, token, "gzf-withdraw-busy")
    lease_until = datetime.now(timezone.utc) + timedelta(minutes=5)
    with standalone_session(settings.database_url) as session:
        session.execute(update(Application).where(Application.id == application["id"])
                        .values(lease_holder="another-process", lease_until=lease_until))
        session.commit()
    busy = withdraw(live_server, token, application["id"])
    assert busy.status_code == 409 and int(busy.headers["retry-after"]) >= 1, busy.text
    assert read(live_server, token, application["id"])["status"] == "waiting"
    with standalone_session(settings.database_url) as session:
        session.execute(update(Application).where(Application.id == application["id"])
                        .values(lease_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
        session.commit()
    assert withdraw(live_server, token, application["id"]).status_code == 200
    assert read(live_server, token, application["id"])["status"] == "withdrawn"


def test_a_withdrawn_applications_investigation_leaves_the_task_list(settings: Settings, live_server: str) -> None:
    """低保 waits for the community's 入户调查: once the application is withdrawn the community's
    task list no longer shows it and a finding posted for it is refused, deciding nothing. The
    income the applicant signed for is still checked (事后核查): found false, the application is
    flagged but stays withdrawn; then the consents end."""
    civil_affairs, community = housing_token(settings, "MZ"), housing_token(settings, "SQ")
    application, task = minimum_living_waiting_for_the_community(  # income declared below the tax bureau's record
        settings, live_server, civil_affairs, community, "dibao-withdrawn", income_change=-200)
    assert withdraw(live_server, civil_affairs, application["id"]).status_code == 200
    assert [t for t in httpx.get(f"{live_server}/api/v1/tasks", headers=_bearer(community)).json()
            if t["application_id"] == application["id"]] == []
    finding = httpx.post(f"{live_server}/api/v1/tasks/{task['id']}/result", headers=_bearer(community), timeout=30,
                         json={"values": {"employment_status": "unemployed", "investigation_note": "入户核实"}})
    assert finding.status_code == 409, finding.text
    after = read(live_server, civil_affairs, application["id"])
    assert after["status"] == "withdrawn" and after["decision"] == application["decision"]

    assert [c["status"] for c in after["commitments"]] == ["pending"]
    assert _running_consents(settings, application["id"]) > 0  # the income the applicant signed is still checked
    checked = run_cli(cli_environment(settings.database_url, settings.var_dir), "commitments", "verify")
    assert checked.returncode == 0, checked.stderr
    checked_after = read(live_server, civil_affairs, application["id"])
    assert [c["status"] for c in checked_after["commitments"]] == ["false"] and checked_after["flagged"]
    assert checked_after["status"] == "withdrawn"  # found false, but not taken back to be decided again
    assert checked_after["decided_at"] == after["decided_at"]
    assert _running_consents(settings, application["id"]) == 0  # then nothing more is pulled for it


def test_a_concluded_application_is_not_withdrawn_one_under_review_is(settings: Settings, live_server: str) -> None:
    """An application decided eligible or not eligible is concluded (办结): the bundle's other
    departments may already act on it, so withdrawing it is refused (409, no time to retry) and
    changes nothing. One a caseworker still has to review (the same household filed again) is
    withdrawn: the applicant gives up before anyone has decided."""
    token = housing_token(settings)
    household = next(h for h in households(settings, "public_housing_eligible", 12)
                     if any(member.relation == "spouse" for member in h.members))
    concluded = apply(live_server, token, public_housing_request(household, "gzf-concluded", signed_at=now()))
    assert concluded.status_code == 201 and concluded.json()["decision"] == "eligible", concluded.text
    refused = withdraw(live_server, token, concluded.json()["id"])
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/conflict", refused.text
    assert "retry-after" not in refused.headers
    after = read(live_server, token, concluded.json()["id"])
    assert (after["status"], after["decision"], after["concluded"]) == ("decided", "eligible", True)

    under_review = apply(live_server, token, public_housing_request(household, "gzf-under-review", signed_at=now()))
    assert under_review.json()["decision"] == "needs_review", under_review.json()["decision_detail"]
    assert under_review.json()["concluded"] is False
    given_up = withdraw(live_server, token, under_review.json()["id"])
    assert given_up.status_code == 200 and given_up.json()["status"] == "withdrawn", given_up.text
