"""A housing bureau's system applies for 公租房 for a demo household over real HTTP: every
proof resolves without paper, the decision comes with its provenance, and a change in the
registry's data changes the decision of the next application."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.database import standalone_session
from api.settings import Settings
from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog
from catalog.versions import read_live_catalog
from exchange.operations import Actor, publish_recorded
from demo.applications import PUBLIC_RENTAL_HOUSING, public_housing_request
from exchange.clients import ClientScope, register_client
from catalog.model import Mode
from exchange.consent import Consent
from demo.data import DemoHousehold, demo_households
from seals.trust import TrustStore
from seals.verify_jws import verify_jws
from tests.support.cli import cli_environment, run_cli

PAPERLESS = {"resolved", "not_found", "abolished", "committed", "not_required", "investigating"}


def housing_token(settings: Settings, department: str = "ZJ") -> str:
    with standalone_session(settings.database_url) as session:
        _, token = register_client(session, read_live_catalog(session), department, "公租房审批系统",
                                   [ClientScope.APPLICATIONS_WRITE])
    return token


def households(settings: Settings, situation: str, count: int = 1) -> list[DemoHousehold]:
    with standalone_session(settings.database_url) as session:
        catalog = read_live_catalog(session)
    return demo_households(settings.sources_dir, catalog, situation, count)


def apply(base: str, token: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/matters/{PUBLIC_RENTAL_HOUSING}/applications", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {token}", **headers})


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def test_an_eligible_household_applies_without_paper(settings: Settings, live_server: str) -> None:
    [household] = households(settings, "public_housing_eligible")
    token = housing_token(settings)
    response = apply(live_server, token, public_housing_request(household, "gzf-1", signed_at=now()))
    assert response.status_code == 201, response.text
    application = response.json()
    assert application["status"] == "decided" and application["decision"] == "eligible"
    assert response.headers["Location"].endswith(f"/api/v1/applications/{application['id']}")
    states = {(item["proof"], item["party"]): item["state"] for item in application["items"]}
    assert set(states.values()) <= PAPERLESS, states
    for member in range(1, len(household.members)):
        assert states[("NO_HOUSING", f"member:{member}")] == "resolved"
    assert states[("INCOME", "applicant")] == "committed"
    assert states[("MINIMUM_LIVING", "-")] == "not_required"  # no priority allocation asked for
    no_property = next(rule for rule in application["decision_detail"]["rules"] if rule["code"] == "no_property")
    assert no_property["result"] is True
    reads = no_property["reads"]
    assert len(reads) == len(household.members)
    assert all(read["value"] is False and read["source"]["department"] == "BDC" and read["source"]["receipt_id"]
               and read["source"]["as_of"] for read in reads)
    income = next(rule for rule in application["decision_detail"]["rules"] if rule["code"] == "income_below_line")
    sources = {read["source"]["kind"] for read in income["reads"]}
    assert sources == {"commitment", "city"}
    assert application["paper_saved"] == sum(1 for item in application["items"] if item["state"] != "not_required")


@pytest.mark.parametrize("income", ["-3000.00", "3000.005", "-0", "1525.000", "9" * 30 + ".001", "1" + "0" * 12,
                                    "01525.00"])
def test_a_committed_amount_below_zero_finer_than_a_fen_or_unreadable_is_refused(settings: Settings, live_server: str,
                                                                                 income: str) -> None:
    """An applicant signs a per-capita income of -3,000 元 (or to a tenth of a 分, or of a trillion
    元 and more, or with zeros in front): no one earns that, a negative figure would lower the
    household's income under a threshold, and a caseworker cannot read the others as written. The
    filing is refused naming the figure, and nothing is filed."""
    [household] = households(settings, "public_housing_eligible")
    body = public_housing_request(household, f"gzf-income-{income}", signed_at=now())
    position = next(n for n, c in enumerate(body["commitments"]) if c["proof"] == "INCOME")
    body["commitments"][position]["values"]["per_capita_monthly_income"] = income
    token = housing_token(settings)
    refused = apply(live_server, token, body)
    assert refused.status_code == 400, (refused.status_code, refused.json().get("decision"))
    assert refused.json()["errors"][0]["pointer"] == f"#/commitments/{position}/values/per_capita_monthly_income"
    listed = httpx.get(f"{live_server}/api/v1/applications", headers={"Authorization": f"Bearer {token}"}).json()
    assert body["request_id"] not in json.dumps(listed, ensure_ascii=False)

@pytest.mark.parametrize(("proof", "changes", "field"), [
    ("INCOME", {"family_size": -1}, "family_size"),  # a count of people
    ("INCOME", {"income_period_start": "2026-12-01", "income_period_end": "2025-12-01"}, "income_period_start"),
    ("INCOME", {"income_period_end": "2099-11-30"}, "income_period_end"),  # an income not yet earned
    ("HOUSING_HARDSHIP_REPORT", {"signed_at": "2099-01-01T00:00:00+08:00"}, "signed_at"),  # after it was signed
    ("HOUSING_HARDSHIP_REPORT", {"hardship_description": "房" * 5000}, "hardship_description"),
], ids=["negative-count", "period-backwards", "period-not-ended", "signed-later", "endless-text"])
def test_a_commitment_that_cannot_be_true_is_refused(settings: Settings, live_server: str, proof: str,
                                                     changes: dict[str, Any], field: str) -> None:
    """What an applicant signs must be possible: no family of -1, no income period ending before it
    begins or after the statement is signed, no statement signed in 2099, no 5,000-character description a caseworker cannot read.
    (An inverted period was confirmed by 事后核查.) Refused naming the value; nothing filed."""
    [household] = households(settings, "public_housing_eligible")
    body = public_housing_request(household, f"gzf-untrue-{field}", signed_at=now())
    position = next(n for n, c in enumerate(body["commitments"]) if c["proof"] == proof)
    body["commitments"][position]["values"].update(changes)
    token = housing_token(settings)
    refused = apply(live_server, token, body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["pointer"] == f"#/commitments/{position}/values/{field}", refused.text
    assert httpx.get(f"{live_server}/api/v1/applications", headers={"Authorization": f"Bearer {token}"}).json() == []


def test_the_demo_shades_a_declared_income_down_to_zero_at_most(settings: Settings) -> None:
    """The workbench's 申报收入调整 far below the household's income declares 0.00, a figure the
    filing takes, not one it refuses."""
    [household] = households(settings, "public_housing_eligible")
    body = public_housing_request(household, "gzf-shaded", signed_at=now(), declared_income_change=Decimal(-99999))
    income = next(c for c in body["commitments"] if c["proof"] == "INCOME")["values"]
    assert (income["per_capita_monthly_income"], income["annual_household_income"]) == ("0.00", "0.00")

def test_a_commitment_already_taken_cannot_be_replaced_while_the_application_waits(settings: Settings,
                                                                                  live_server: str) -> None:
    """The household files its income commitment but not yet the single declaration: the
    application waits, with the income commitment taken. A corrected income sent with the
    declaration would be stored and ignored (the decision resting on the figure it replaced), so it
    is refused naming it, and nothing of that post is taken."""
    import copy

    candidates = households(settings, "public_housing_eligible", 8)
    bodies = [public_housing_request(h, f"gzf-correct-{n}", signed_at=now()) for n, h in enumerate(candidates)]
    body = next(b for b in bodies if any(c["proof"] == "SINGLE_DECLARATION" for c in b["commitments"]))
    single = next(c for c in body["commitments"] if c["proof"] == "SINGLE_DECLARATION")
    income = copy.deepcopy(next(c for c in body["commitments"] if c["proof"] == "INCOME"))
    body["commitments"] = [c for c in body["commitments"] if c["proof"] != "SINGLE_DECLARATION"]
    token = housing_token(settings)
    filed = apply(live_server, token, body)
    assert filed.status_code == 202 and filed.json()["status"] == "waiting", filed.text
    income["values"].update(annual_household_income="144000.00", per_capita_monthly_income="4000.00")
    added = httpx.post(f"{live_server}/api/v1/applications/{filed.json()['id']}/commitments", timeout=30,
                       headers={"Authorization": f"Bearer {token}"},
                       json={"commitments": [income, single], "signature": {"channel": "counter"}})
    assert added.status_code == 400 and added.json()["errors"][0]["pointer"] == "#/commitments/0", added.status_code
    after = httpx.get(f"{live_server}/api/v1/applications/{filed.json()['id']}",
                      headers={"Authorization": f"Bearer {token}"}).json()
    assert after["status"] == "waiting"
    assert [c["id"] for c in after["commitments"]] == [c["id"] for c in filed.json()["commitments"]]


def test_a_proof_dropped_from_the_matter_while_an_application_waits_is_left_out_of_its_decision(
        settings: Settings, live_server: str) -> None:
    """A publication takes 未租住公房证明 and its rule out of 公租房 while an application waits for
    its commitments (its members' records already read): the commitments are taken and the
    application decided under the live catalog, no longer reading the dropped proof, not a 500 and
    an application stuck resolving."""
    [household] = households(settings, "public_housing_eligible")
    body = public_housing_request(household, "gzf-dropped-proof", signed_at=now())
    commitments, signature = body.pop("commitments"), body.pop("signature")
    token = housing_token(settings)
    filed = apply(live_server, token, body)
    assert filed.status_code == 202 and filed.json()["status"] == "waiting", filed.text
    assert "NOT_RENTING_PUBLIC_HOUSING" in {item["proof"] for item in filed.json()["items"]}
    document = load_catalog(bundled_catalog_path()).to_document()
    housing = next(m for m in document["matters"] if m["code"] == PUBLIC_RENTAL_HOUSING)
    housing["proofs"] = [p for p in housing["proofs"] if p["proof"] != "NOT_RENTING_PUBLIC_HOUSING"]
    housing["rules"] = [r for r in housing["rules"] if r["code"] != "not_renting_public_housing"]
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, catalog_from_document(document), "目录管理员", None, Actor())

    added = httpx.post(f"{live_server}/api/v1/applications/{filed.json()['id']}/commitments", timeout=30,
                       headers={"Authorization": f"Bearer {token}"},
                       json={"commitments": commitments, "signature": signature})
    assert added.status_code == 200, added.text
    decided = added.json()
    assert decided["status"] == "decided" and decided["decision"] == "eligible", decided["decision_detail"]
    assert [rule["code"] for rule in decided["decision_detail"]["rules"]] == ["no_property", "income_below_line",
                                                                              "spouse_in_household", "members_registered"]
    read = httpx.get(f"{live_server}/api/v1/applications/{filed.json()['id']}", headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200 and read.json()["decision"] == "eligible"


def test_a_proof_taken_out_of_the_catalog_while_an_application_waits_is_left_out_of_its_decision(
        settings: Settings, live_server: str) -> None:
    """A publication drops 住房困难报告 from the catalog altogether (not only from 公租房) while an
    application waits for its commitments (住房困难报告 and 收入): the application is decided under
    the live catalog once the 收入 one is added, not stuck waiting with a KeyError on every resume;
    its 住房困难报告 item no longer reads as still awaited on a decided application."""
    [household] = households(settings, "public_housing_eligible")
    body = public_housing_request(household, "gzf-proof-gone", signed_at=now())
    income = [c for c in body["commitments"] if c["proof"] == "INCOME"]
    body["commitments"] = [c for c in body["commitments"] if c["proof"] not in ("INCOME", "HOUSING_HARDSHIP_REPORT")]
    token = housing_token(settings)
    filed = apply(live_server, token, body)
    assert filed.status_code == 202 and filed.json()["status"] == "waiting", filed.text
    assert "HOUSING_HARDSHIP_REPORT" in {item["proof"] for item in filed.json()["items"]}
    document = load_catalog(bundled_catalog_path()).to_document()
    document["proofs"] = [p for p in document["proofs"] if p["code"] != "HOUSING_HARDSHIP_REPORT"]
    for matter in document["matters"]:
        matter["proofs"] = [p for p in matter["proofs"] if p["proof"] != "HOUSING_HARDSHIP_REPORT"]
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, catalog_from_document(document), "目录管理员", None, Actor())

    added = httpx.post(f"{live_server}/api/v1/applications/{filed.json()['id']}/commitments", timeout=30,
                       headers={"Authorization": f"Bearer {token}"},
                       json={"commitments": income, "signature": body["signature"]})
    assert added.status_code == 200, added.text
    decided = added.json()
    assert decided["status"] == "decided" and decided["decision"] == "eligible", decided["decision_detail"]
    [gone] = [item for item in decided["items"] if item["proof"] == "HOUSING_HARDSHIP_REPORT"]
    assert gone["state"] == "not_required" and "目录已不再要求" in gone["detail"], gone
    assert not any(item["state"] in ("pending", "waiting", "awaiting_commitment") for item in decided["items"])


def test_a_matter_dropped_while_its_application_was_left_resolving_goes_to_a_caseworker(
        settings: Settings, live_server: str) -> None:
    """A process died while resolving a 公租房 application (its lease ran out), and a publication
    has since dropped 公租房. The sweep that resumes abandoned applications decides it needs_review
    with a note saying why, instead of failing on the missing matter, and goes on to resume the
    applications behind it (a 新生儿出生一件事 filed later)."""
    from sqlalchemy import text
    from tests.api.test_matters import envelope, file, person

    [household] = households(settings, "public_housing_eligible")
    dropped = apply(live_server, housing_token(settings), public_housing_request(household, "gzf-matter-dropped",
                                                                                 signed_at=now()))
    assert dropped.status_code in (201, 202), dropped.text
    [family] = households(settings, "newborn")
    baby = next(member for member in family.members if member.age == 0 and member.relation == "child")
    behind = file(live_server, housing_token(settings, "GA"), "NEWBORN_BIRTH",
                  envelope("newborn-behind", family.head, members=[person(m) for m in family.members[1:]],
                           child=person(baby)))
    with standalone_session(settings.database_url) as session:  # as a process that died mid-resolution leaves them
        session.execute(text("UPDATE applications SET status = 'resolving', lease_until = :past WHERE id IN (:a, :b)"),
                        {"past": now() - timedelta(hours=1), "a": dropped.json()["id"], "b": behind["id"]})
        document = load_catalog(bundled_catalog_path()).to_document()
        document["matters"] = [m for m in document["matters"] if m["code"] != PUBLIC_RENTAL_HOUSING]
        for license_type in document["licenses"]:
            license_type["uses"] = [use for use in license_type.get("uses", []) if use["matter"] != PUBLIC_RENTAL_HOUSING]
        publish_recorded(session, catalog_from_document(document), "目录管理员", None, Actor())
        session.commit()

    resumed = run_cli(cli_environment(settings.database_url, settings.var_dir), "applications", "resume")
    assert resumed.returncode == 0, resumed.stderr
    read = httpx.get(f"{live_server}/api/v1/applications/{dropped.json()['id']}",
                     headers={"Authorization": f"Bearer {housing_token(settings)}"}).json()
    assert (read["status"], read["decision"]) == ("decided", "needs_review"), read
    assert any("已从目录中取消" in note for note in read["decision_detail"]["notes"])
    again = httpx.get(f"{live_server}/api/v1/applications/{behind['id']}",
                      headers={"Authorization": f"Bearer {housing_token(settings, 'GA')}"}).json()
    assert again["status"] == "decided", again["status"]


def test_a_spouse_left_out_of_the_household_is_caught_by_the_marriage_record(settings: Settings,
                                                                           live_server: str) -> None:
    """公租房 asks that the whole family own no property. Filed without the spouse, whose
    property would then never be searched, the marriage record pulled in the same application
    names a spouse who is not among the members: a caseworker looks, it is not decided eligible."""
    [household] = [h for h in households(settings, "public_housing_eligible", 12)
                   if h.head.marital_status == "married" and any(m.relation == "spouse" for m in h.members)][:1]
    whole = apply(live_server, housing_token(settings), public_housing_request(household, "gzf-spouse-listed",
                                                                               signed_at=now()))
    assert whole.status_code == 201 and whole.json()["decision"] == "eligible", whole.json()["decision_detail"]

    body = public_housing_request(household, "gzf-spouse-left-out", signed_at=now())
    body["members"] = [member for member in body["members"] if member["relation"] != "spouse"]
    for commitment in body["commitments"]:
        if commitment["proof"] == "INCOME":
            commitment["values"]["family_size"] = len(body["members"]) + 1
    filed = apply(live_server, housing_token(settings), body)
    assert filed.status_code == 201, filed.text
    assert filed.json()["decision"] == "needs_review", filed.json()["decision_detail"]
    rule = next(r for r in filed.json()["decision_detail"]["rules"] if r["code"] == "spouse_in_household")
    assert rule["result"] is False and rule["effect"] == "needs_review"


def test_a_household_filing_again_under_another_case_number_goes_to_a_caseworker(settings: Settings,
                                                                                live_server: str) -> None:
    """The same household's 公租房 filed a second time under a new case number, then with the
    spouse as applicant: neither is decided eligible on its own, each names the first case so
    nothing is granted twice."""
    household = next(h for h in households(settings, "public_housing_eligible", 12)
                     if any(member.relation == "spouse" for member in h.members))
    first = apply(live_server, housing_token(settings), public_housing_request(household, "gzf-first-filing",
                                                                               signed_at=now()))
    assert first.status_code == 201 and first.json()["decision"] == "eligible", first.text
    again = apply(live_server, housing_token(settings), public_housing_request(household, "gzf-filed-again",
                                                                               signed_at=now()))
    assert again.status_code == 201, again.text
    assert again.json()["decision"] == "needs_review", again.json()["decision_detail"]
    assert any(first.json()["case_number"] in note and "重复申请" in note
               for note in again.json()["decision_detail"]["notes"]), again.json()["decision_detail"]["notes"]

    swapped = public_housing_request(household, "gzf-spouse-files", signed_at=now())  # the spouse as applicant
    spouse = next(member for member in swapped["members"] if member["relation"] == "spouse")
    swapped["members"] = [{**swapped["applicant"], "relation": "spouse"},
                          *[member for member in swapped["members"] if member is not spouse]]
    swapped["applicant"] = {**spouse, "relation": "head"}
    by_spouse = apply(live_server, housing_token(settings), swapped)
    assert by_spouse.status_code == 201, by_spouse.text
    assert by_spouse.json()["decision"] == "needs_review", by_spouse.json()["decision_detail"]
    assert any(first.json()["case_number"] in note for note in by_spouse.json()["decision_detail"]["notes"])


def test_a_duplicate_note_names_the_granted_filing_and_the_latest(settings: Settings, live_server: str) -> None:
    """A household filed five times (the first decided eligible, each later one held for a
    caseworker as its possible duplicate): the sixth names the one granted and the newest, not
    just the three oldest."""
    household = households(settings, "public_housing_eligible", 12)[5]
    filed = [apply(live_server, housing_token(settings), public_housing_request(household, f"gzf-dup-{n}",
                                                                                signed_at=now())).json()
             for n in range(5)]
    assert [f["decision"] for f in filed] == ["eligible", *["needs_review"] * 4], [f["decision"] for f in filed]
    sixth = apply(live_server, housing_token(settings), public_housing_request(household, "gzf-dup-5",
                                                                               signed_at=now())).json()
    notes = [note for note in sixth["decision_detail"]["notes"] if "重复申请" in note]
    assert len(notes) == 3, notes
    assert filed[0]["case_number"] in notes[0] and "符合条件" in notes[0], notes
    assert filed[4]["case_number"] in notes[1] and filed[3]["case_number"] in notes[2], notes


def test_a_member_whose_data_the_exchange_refused_leaves_a_household_rule_undecided(settings: Settings,
                                                                                    live_server: str) -> None:
    """Applicant and spouse consent, the children do not: the exchange refuses every pull about the
    children. No rule over the household may then hold as true of them (未承租公有住房 is read as
    'the source has no record'); it is undecided, naming the member and the proof."""
    [household] = [h for h in households(settings, "public_housing_eligible", 8) if len(h.members) >= 3][:1]
    body = public_housing_request(household, "gzf-refused-member", signed_at=now())
    body["counter_consent"] = False
    proofs = ["NO_HOUSING", "NOT_RENTING_PUBLIC_HOUSING", "HOUSEHOLD_REGISTRATION", "MARITAL_STATUS", "INCOME",
              "HOUSING_HARDSHIP_REPORT"]
    for person in (body["applicant"], body["members"][0]):
        assertion = httpx.post(f"{live_server}/dev-idp/token",
                               json={"name": person["name"], "id_number": person["id_number"]}).json()["assertion"]
        granted = httpx.post(f"{live_server}/api/v1/me/consents", headers={"Authorization": f"Bearer {assertion}"},
                             json={"matter": PUBLIC_RENTAL_HOUSING, "department": "ZJ", "days": 30, "proofs": proofs})
        assert granted.status_code in (200, 201), granted.text
    filed = apply(live_server, housing_token(settings), body)
    assert filed.status_code == 201, filed.text
    application = filed.json()
    child = body["members"][1]["name"]
    refused = [item for item in application["items"] if item["state"] == "denied"]
    assert refused and all(item["party_label"] and body["applicant"]["name"] not in item["party_label"] for item in refused)
    rules = {rule["code"]: rule for rule in application["decision_detail"]["rules"]}
    for code in ("not_renting_public_housing", "no_property"):
        assert rules[code]["result"] is None, rules[code]
        assert "未取得" in rules[code]["error_zh"] and child in rules[code]["error_zh"], rules[code]["error_zh"]
    assert application["decision"] == "needs_review"


def test_the_same_request_id_returns_the_same_application(settings: Settings, live_server: str) -> None:
    [household] = households(settings, "public_housing_eligible")
    token = housing_token(settings)
    body = public_housing_request(household, "gzf-same", signed_at=now())
    first = apply(live_server, token, body)
    again = apply(live_server, token, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    changed = apply(live_server, token, {**body, "options": {"priority_allocation": True}})
    assert changed.status_code == 409


def test_a_case_is_filed_once_even_under_new_request_ids(settings: Settings, live_server: str) -> None:
    """A department system that timed out and files the same case again under a new request id
    (or twice at once) gets one application: the second is refused, naming the case number."""
    from concurrent.futures import ThreadPoolExecutor

    first_household, second_household = households(settings, "public_housing_eligible", 2)
    token = housing_token(settings)
    body = public_housing_request(first_household, "gzf-case-once", signed_at=now())
    first = apply(live_server, token, body)
    assert first.status_code == 201, first.text
    again = apply(live_server, token, {**body, "request_id": "gzf-case-once-retried"})
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert again.json()["errors"][0]["pointer"] == "#/case_number", again.text
    assert first.json()["id"] in again.json()["detail"]

    racing = public_housing_request(second_household, "gzf-case-race", signed_at=now())
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda n: apply(live_server, token, {**racing, "request_id": f"gzf-case-race-{n}"}),
                                range(2)))
    assert sorted(answer.status_code for answer in answers) == [201, 409], [a.text for a in answers]
    listed = httpx.get(f"{live_server}/api/v1/applications", headers={"Authorization": f"Bearer {token}"},
                       timeout=30).json()
    case_numbers = [application["case_number"] for application in listed]
    assert case_numbers.count(body["case_number"]) == 1 and case_numbers.count(racing["case_number"]) == 1


def test_a_member_registering_a_property_makes_the_household_not_eligible(settings: Settings, live_server: str) -> None:
    [household] = households(settings, "public_housing_eligible")
    token = housing_token(settings)
    member = household.members[-1]
    with sqlite3.connect(settings.sources_dir / "BDC.db") as registry:
        registry.execute(
            "UPDATE records SET record = json_set(json_set(record, '$.has_registered_property', json('true')),"
            " '$.property_count', 1) WHERE proof_code = 'NO_HOUSING' AND subject_id = ?", (member.id_number,))
    response = apply(live_server, token, public_housing_request(household, "gzf-owner", signed_at=now()))
    assert response.status_code == 201, response.text
    application = response.json()
    assert application["decision"] == "not_eligible"
    no_property = next(rule for rule in application["decision_detail"]["rules"] if rule["code"] == "no_property")
    assert no_property["result"] is False
    [owner] = [read for read in no_property["reads"] if read["value"] is True]
    assert member.name in owner["party_label"]


@pytest.mark.parametrize("years", [-1, 3])
def test_only_a_current_disability_certificate_grants_the_priority(settings: Settings, live_server: str,
                                                                    years: int) -> None:
    """A 残疾人证 past its 有效期至 does not grant 优先配租; a current one does, and the decision
    names the member whose certificate it read."""
    [household] = households(settings, "public_housing_eligible")
    member = household.members[-1]
    until = now().astimezone(timezone(timedelta(hours=8))).date().replace(day=1)
    until = until.replace(year=until.year + years)
    with sqlite3.connect(settings.sources_dir / "CL.db") as federation:
        federation.execute("INSERT OR REPLACE INTO records VALUES ('DISABILITY', ?, ?, ?, ?)", (
            member.id_number, member.name, json.dumps({
                "full_name": member.name, "id_number": member.id_number, "certificate_no": f"{member.id_number}41",
                "disability_category": "physical", "disability_grade": "grade_4", "valid_until": until.isoformat()}),
            now().isoformat()))
    body = {**public_housing_request(household, f"gzf-disabled{years}", signed_at=now()),
            "options": {"priority_allocation": True}}
    response = apply(live_server, housing_token(settings), body)
    assert response.status_code == 201, response.status_code
    [priority] = [p for p in response.json()["decision_detail"]["priorities"] if p["code"] == "disabled_member"]
    assert priority["granted"] is (years > 0)
    [read] = [read for read in priority["reads"] if read["proof"] == "DISABILITY"]
    assert member.name in read["party_label"] and read["value"] == until.isoformat()


@pytest.mark.parametrize("field, body_change, pointer", [
    ("id", {"applicant": {"name": "张三", "id_number": "330784197608084586"}}, "#/applicant/id_number"),
    ("option", {"options": {"priority": True}}, "#/options/priority"),
    ("commitment", {"commitments": [{"proof": "NO_HOUSING", "values": {}}]}, "#/commitments/0/proof"),
    ("blank-name", {"applicant": {"name": "   ", "id_number": "330784197608084585"}}, "#/applicant/name"),
    ("case-number", {"case_number": "CS-330703 19940502 8242"}, "#/case_number"),  # kept in clear: no ID number
    ("caseworker", {"caseworker_id": "zj-330703199405028243"}, "#/caseworker_id"),  # mistyped, still nearly someone's
    # a relation the exchange does not know would silently leave a spouse's proofs unasked
    ("relation", {"members": [{"name": "李四", "id_number": "330784197608084585", "relation": "配偶"}]},
     "#/members/0/relation"),
    # a member without a relation, or a second spouse, would leave a spouse's proofs unasked or asked twice
    ("no-relation", {"members": [{"name": "李四", "id_number": "330784197608084585"}]}, "#/members/0/relation"),
    ("two-spouses", {"members": [{"name": "李四", "id_number": "330784197608084585", "relation": "spouse"},
                                 {"name": "王五", "id_number": "330702198001010010", "relation": "spouse"}]},
     "#/members/1/relation"),
    # "true" is no boolean: a mistyped client must not record a written authorisation nobody signed
    ("counter-consent", {"counter_consent": "true"}, "#/counter_consent"),
])
def test_bad_input_names_the_field_and_files_nothing(settings: Settings, live_server: str, field: str,
                                                      body_change: dict[str, Any], pointer: str) -> None:
    [household] = households(settings, "public_housing_eligible")
    token = housing_token(settings)
    body = {**public_housing_request(household, f"bad-{field}", signed_at=now()), **body_change}
    response = apply(live_server, token, body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["pointer"] == pointer
    listed = httpx.get(f"{live_server}/api/v1/applications", headers={"Authorization": f"Bearer {token}"})
    assert listed.json() == []


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**20])
def test_a_committed_integer_beyond_64_bits_names_the_field_and_files_nothing(settings: Settings, live_server: str,
                                                                               value: int) -> None:
    """The rules read integers as CEL's 64-bit integers: a larger one is an input error, not a
    500 that leaves the application stuck half filed."""
    [household] = households(settings, "public_housing_eligible")
    token = housing_token(settings)
    body = public_housing_request(household, "big-int", signed_at=now())
    index = next(i for i, commitment in enumerate(body["commitments"]) if "family_size" in commitment["values"])
    body["commitments"][index]["values"]["family_size"] = value
    response = apply(live_server, token, body)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["pointer"] == f"#/commitments/{index}/values/family_size"
    listed = httpx.get(f"{live_server}/api/v1/applications", headers={"Authorization": f"Bearer {token}"})
    assert listed.json() == []


def test_an_unknown_matter_is_not_found(settings: Settings, live_server: str) -> None:
    [household] = households(settings, "public_housing_eligible")
    response = httpx.post(f"{live_server}/api/v1/matters/NO_SUCH_MATTER/applications",
                          json=public_housing_request(household, "nowhere", signed_at=now()),
                          headers={"Authorization": f"Bearer {housing_token(settings)}"})
    assert response.status_code == 404 and response.json()["type"] == "/problems/not-found"


def test_only_a_consumer_of_the_matter_may_apply(settings: Settings, live_server: str) -> None:
    [household] = households(settings, "public_housing_eligible")
    response = apply(live_server, housing_token(settings, "BDC"),
                     public_housing_request(household, "not-mine", signed_at=now()))
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/forbidden-by-policy"


def test_a_false_income_declaration_is_flagged_by_post_check(settings: Settings, live_server: str) -> None:
    [household] = households(settings, "public_housing_eligible")
    token = housing_token(settings)
    body = public_housing_request(household, "gzf-low", signed_at=now(), declared_income_change=Decimal(-500))
    application = apply(live_server, token, body).json()
    assert application["decision"] == "eligible"
    result = run_cli(cli_environment(settings.database_url, settings.var_dir), "commitments", "verify")
    assert result.returncode == 0, result.stderr
    assert "不实 1 件" in result.stdout
    after = httpx.get(f"{live_server}/api/v1/applications/{application['id']}",
                      headers={"Authorization": f"Bearer {token}"}).json()
    assert after["flagged"] is True and after["decision"] == "needs_review"
    income = next(c for c in after["commitments"] if c["proof"] == "INCOME")
    assert income["status"] == "false"
    listed = httpx.get(f"{live_server}/api/v1/commitments", params={"status": "false"},
                       headers={"Authorization": f"Bearer {token}"}).json()
    assert [c["id"] for c in listed] == [income["id"]]


def test_a_commitment_to_a_proof_taken_out_of_the_catalog_goes_to_an_on_site_check(settings: Settings,
                                                                                   live_server: str) -> None:
    """收入证明 is taken out of the catalog (and the rules reading it) after an applicant committed
    to her income: 事后核查 has no catalog entry to check it by, so the handling department checks
    it on site, and the run goes on; not a traceback on every run."""
    [household] = households(settings, "public_housing_eligible")
    token = housing_token(settings)
    application = apply(live_server, token, public_housing_request(household, "gzf-income-gone", signed_at=now())).json()
    assert application["decision"] == "eligible"
    document = load_catalog(bundled_catalog_path()).to_document()
    document["proofs"] = [p for p in document["proofs"] if p["code"] != "INCOME" and
                          p.get("verification", {}).get("proof") != "INCOME"]
    for matter in document["matters"]:
        matter["proofs"] = [p for p in matter["proofs"] if p["proof"] != "INCOME" and "income." not in p.get("when", "")]
        for key in ("rules", "priorities"):
            matter[key] = [r for r in matter.get(key, []) if "income." not in r["expression"]]
        if matter.get("recheck"):
            matter["recheck"]["rules"] = [r for r in matter["recheck"]["rules"]
                                          if r in {rule["code"] for rule in matter["rules"]}]
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, catalog_from_document(document), "目录管理员", None, Actor())
    result = run_cli(cli_environment(settings.database_url, settings.var_dir), "commitments", "verify")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    after = httpx.get(f"{live_server}/api/v1/applications/{application['id']}",
                      headers={"Authorization": f"Bearer {token}"}).json()
    income = next(c for c in after["commitments"] if c["proof"] == "INCOME")
    assert income["status"] == "on_site" and "目录" in income["verification_detail"], income


def test_a_commitment_is_sealed_with_the_catalogs_exact_text(settings: Settings, live_server: str,
                                                             tmp_path: Path) -> None:
    [household] = households(settings, "public_housing_eligible")
    token = housing_token(settings)
    application = apply(live_server, token, public_housing_request(household, "gzf-sealed", signed_at=now())).json()
    income = next(c for c in application["commitments"] if c["proof"] == "INCOME")
    signed = httpx.get(f"{live_server}/api/v1/commitments/{income['id']}", headers={"Authorization": f"Bearer {token}"})
    assert signed.status_code == 200, signed.text
    env = cli_environment(settings.database_url, settings.var_dir)
    assert run_cli(env, "seal", "export-trust", str(tmp_path / "trust")).returncode == 0
    checked = verify_jws(signed.json()["token"], TrustStore.load(tmp_path / "trust"))
    assert checked.verdict.valid, checked.verdict
    with standalone_session(settings.database_url) as session:
        catalog = read_live_catalog(session)
    claims = checked.claims
    assert claims["text_zh"] == catalog.proofs["INCOME"].commitment_text_zh
    assert claims["committed"]["per_capita_monthly_income"] == format(household.monthly_income_per_person, "f")
    assert claims["signer"]["channel"] == "counter" and claims["signer"]["witness"] == "zj-0042"
    assert re.fullmatch(r"[0-9a-f]{64}", claims["subject"])  # whom it is about: a subject key
    assert household.head.id_number not in json.dumps(claims)
    other = housing_token(settings, "MZ")
    assert httpx.get(f"{live_server}/api/v1/commitments/{income['id']}",
                     headers={"Authorization": f"Bearer {other}"}).status_code == 404


def test_a_members_access_log_names_the_written_consent_and_a_query_without_record_as_one(
        settings: Settings, live_server: str) -> None:
    """A child whose data the housing bureau pulled on the written authorisation signed at the
    counter reads 窗口书面授权, not 本人授权 (a three-year-old gave none herself); a pull the source
    had no record for reads as asked, then its result, not as two accesses allowed."""
    [household] = [h for h in households(settings, "public_housing_eligible", 20) if len(h.members) > 1][:1]
    body = public_housing_request(household, "gzf-log-words", signed_at=now())
    assert body["counter_consent"] is True
    assert apply(live_server, housing_token(settings), body).status_code == 201
    member = household.members[1]
    assertion = httpx.post(f"{live_server}/dev-idp/token", json={"name": member.name, "id_number": member.id_number})
    me = {"Authorization": f"Bearer {assertion.json()['assertion']}"}
    entries = httpx.get(f"{live_server}/api/v1/me/access-log", headers=me).json()["entries"]
    assert entries and all(entry["basis_zh"] == "窗口书面授权" for entry in entries if entry["consent_id"]), entries
    for entry in entries:
        if entry["reason"] == "subject-not-found":
            assert entry["outcome_zh"] == "已查询：来源部门无此记录", entry
    page = httpx.get(f"{live_server}/portal/access-log", cookies={"mz_identity": assertion.json()["assertion"]}).text
    assert "本人授权" not in page and "窗口书面授权" in page and "同一次调取再记一条结果" in page


def test_counter_consents_serve_only_the_filing_system_and_the_proofs_it_needs(settings: Settings,
                                                                              live_server: str) -> None:
    [household] = households(settings, "public_housing_eligible")
    body = public_housing_request(household, "gzf-consent-1", signed_at=now())
    assert body["counter_consent"] is True
    with standalone_session(settings.database_url) as session:
        before = {row.id for row in session.query(Consent)}
    assert apply(live_server, housing_token(settings), body).status_code == 201
    with standalone_session(settings.database_url) as session:
        rows = [row for row in session.query(Consent) if row.id not in before]
        catalog = read_live_catalog(session)
    assert len(rows) == 1 + len(body["members"]) and all(row.bound_client_id for row in rows)
    matter = catalog.matters[PUBLIC_RENTAL_HOUSING]
    pulled = {e.proof for e in matter.proofs if matter.mode_for(catalog.proofs[e.proof]).pulled
              or matter.mode_for(catalog.proofs[e.proof]) is Mode.COMMITMENT}  # 事后核查 pulls those
    everything = {e.proof for e in matter.proofs}
    assert all(set(row.proofs) <= pulled for row in rows)
    assert any(set(row.proofs) < everything for row in rows)  # each person only for what is pulled about them

    other = register_other_system(settings)  # the same department, another system: direct pulls only
    applicant = body["applicant"]
    direct = httpx.post(f"{live_server}/api/v1/exchange/requests", headers={"Authorization": f"Bearer {other}"},
                        json={"request_id": "direct-1", "caseworker_id": "zj-7", "case_number": "X-1",
                              "matter": PUBLIC_RENTAL_HOUSING, "proof": "NO_HOUSING", "purpose": "公租房资格审核",
                              "subject": {"id_number": applicant["id_number"], "name": applicant["name"]}})
    assert direct.status_code == 403 and direct.json()["type"] == "/problems/consent-required", direct.text

    env = cli_environment(settings.database_url, settings.var_dir)
    assert run_cli(env, "commitments", "verify").returncode == 0  # 事后核查 done: the application's life is over
    with standalone_session(settings.database_url) as session:
        ended = [session.get(Consent, row.id) for row in rows]
        assert all(consent.expires_at <= datetime.now(timezone.utc) for consent in ended)


def register_other_system(settings: Settings) -> str:
    with standalone_session(settings.database_url) as session:
        _, token = register_client(session, read_live_catalog(session), "ZJ", "住房保障直连系统",
                                   [ClientScope.EXCHANGE_REQUEST])
    return token


def test_the_receipt_behind_each_pulled_value_can_be_fetched_and_checked_offline(settings: Settings, live_server: str,
                                                                                tmp_path: Path) -> None:
    """A department that decided on pulled data later has to show what the exchange told it: each
    value's `receipt_id` fetches the answer with its signed receipt, as the exchange gave it, which
    `mianzheng receipt verify` checks offline. Another department's system gets nothing."""
    [household] = households(settings, "public_housing_eligible")
    token = housing_token(settings)
    application = apply(live_server, token, public_housing_request(household, "gzf-receipts", signed_at=now())).json()
    rule = next(rule for rule in application["decision_detail"]["rules"] if rule["code"] == "no_property")
    read = rule["reads"][0]
    url = f"{live_server}/api/v1/applications/{application['id']}/receipts/{read['source']['receipt_id']}"
    fetched = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["cache-control"] == "private, no-store"
    body = fetched.json()
    assert body["answer"]["data"]["has_registered_property"] is read["value"] is False
    assert body["answer"]["request_id"] and household.members[0].id_number not in fetched.text

    env = cli_environment(settings.database_url, settings.var_dir)
    (tmp_path / "answer.json").write_text(fetched.text, encoding="utf-8")
    assert run_cli(env, "seal", "export-trust", str(tmp_path / "trust")).returncode == 0
    verified = run_cli(env, "receipt", "verify", str(tmp_path / "answer.json"), "--trust", str(tmp_path / "trust"))
    assert verified.returncode == 0 and "回执有效" in verified.stdout, verified.stdout + verified.stderr

    other = housing_token(settings, "GA")
    for headers, address in (({"Authorization": f"Bearer {other}"}, url),
                             ({"Authorization": f"Bearer {token}"}, url[:-4] + "0000")):
        refused = httpx.get(address, headers=headers, timeout=30)
        assert refused.status_code == 404 and refused.headers["content-type"] == "application/problem+json", refused.text
