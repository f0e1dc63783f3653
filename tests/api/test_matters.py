"""The other high-frequency matters end to end over real HTTP, each with its real-world shape:
新生儿出生一件事 (one application, three departments' parts), 义务教育入学, 低保 (with the
community's 入户调查 as a task), 教师资格认定 (无犯罪记录 by commitment, checked afterwards)
and 企业开办 (premises by commitment)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from api.settings import Settings
from demo.data import DemoHousehold, DemoMember
from tests.api.test_applications import housing_token, households
from tests.support.cli import cli_environment, run_cli


def file(base: str, token: str, matter: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{base}/api/v1/matters/{matter}/applications", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (201, 202), response.text
    return response.json()


def person(member: DemoMember) -> dict[str, str]:
    return {"name": member.name, "id_number": member.id_number, "relation": member.relation}


def envelope(request_id: str, applicant: DemoMember, **more: Any) -> dict[str, Any]:
    return {"request_id": request_id, "caseworker_id": "ck-007", "case_number": f"CASE-{request_id}",
            "applicant": person(applicant), "counter_consent": True, **more}


def signed() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def items(application: dict[str, Any]) -> dict[str, str]:
    return {item["proof"]: item["state"] for item in application["items"]}


def test_newborn_bundle_is_one_application_for_three_departments(settings: Settings, live_server: str) -> None:
    [household] = households(settings, "newborn")
    baby = next(member for member in household.members if member.age == 0 and member.relation == "child")
    public_security = housing_token(settings, "GA")
    application = file(live_server, public_security, "NEWBORN_BIRTH",
                       envelope("newborn-1", household.head, members=[person(m) for m in household.members[1:]],
                                child=person(baby)))
    assert application["status"] == "decided" and application["decision"] == "eligible", application["decision_detail"]
    assert items(application)["BIRTH_MEDICAL"] == "resolved"
    assert items(application)["MEDICAL_INSURANCE"] == "not_required"
    services = {part["department"]: part["outcome"] for part in application["decision_detail"]["services"]}
    assert services == {"GA": "eligible", "YB": "eligible", "RS": "eligible"}
    birth = next(item for item in application["items"] if item["proof"] == "BIRTH_MEDICAL")
    assert birth["mode"] == "e_license" and birth["values"]["newborn_name"] == baby.name
    insurance = httpx.get(f"{live_server}/api/v1/applications/{application['id']}",
                          headers={"Authorization": f"Bearer {housing_token(settings, 'YB')}"})
    assert insurance.status_code == 200  # a part of the bundle is the insurance bureau's
    outsider = httpx.get(f"{live_server}/api/v1/applications/{application['id']}",
                         headers={"Authorization": f"Bearer {housing_token(settings, 'JY')}"})
    assert outsider.status_code == 404


def test_school_enrollment_of_a_local_child(settings: Settings, live_server: str) -> None:
    [household] = households(settings, "school_age")
    child = next(member for member in household.members if member.age == 6 and member.relation == "child")
    application = file(live_server, housing_token(settings, "JY"), "COMPULSORY_EDUCATION_ENROLLMENT",
                       envelope("school-1", household.head, members=[person(m) for m in household.members[1:]],
                                child=person(child), options={"enrollment_basis": "hukou_property"}))
    assert application["status"] == "decided"
    states = items(application)
    assert states["RENTAL_REGISTRATION"] == "not_required" and states["RESIDENCE_PERMIT"] == "not_required"
    assert states["VACCINATION"] in ("resolved", "not_found")
    vaccination = next(rule for rule in application["decision_detail"]["rules"] if rule["code"] == "immunization_complete")
    assert vaccination["reads"] and vaccination["reads"][0]["source"]["department"] == "WJ"


@pytest.mark.parametrize("value", [["hukou_property"], {"hukou_property": True}, 1])
def test_an_enum_option_of_another_type_is_an_input_error(settings: Settings, live_server: str, value: Any) -> None:
    [household] = households(settings, "school_age")
    child = next(member for member in household.members if member.age == 6 and member.relation == "child")
    response = httpx.post(f"{live_server}/api/v1/matters/COMPULSORY_EDUCATION_ENROLLMENT/applications", timeout=30,
                          headers={"Authorization": f"Bearer {housing_token(settings, 'JY')}"},
                          json=envelope("school-bad-option", household.head, child=person(child),
                                        options={"enrollment_basis": value}))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["pointer"] == "#/options/enrollment_basis"


def test_a_case_number_or_caseworker_longer_than_is_kept_is_an_input_error(settings: Settings,
                                                                         live_server: str) -> None:
    """The same on both databases: refused naming the field, not a 500 on PostgreSQL's column."""
    [household] = households(settings, "school_age")
    child = next(member for member in household.members if member.age == 6 and member.relation == "child")
    for field in ("case_number", "caseworker_id"):
        body = {**envelope(f"school-long-{field}", household.head, child=person(child),
                           options={"enrollment_basis": "hukou_property"}), field: "A" * 100}
        response = httpx.post(f"{live_server}/api/v1/matters/COMPULSORY_EDUCATION_ENROLLMENT/applications",
                              json=body, timeout=30, headers={"Authorization": f"Bearer {housing_token(settings, 'JY')}"})
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["pointer"] == f"#/{field}"


def test_minimum_living_waits_for_the_community_investigation(settings: Settings, live_server: str) -> None:
    [household] = households(settings, "minimum_living")
    head: DemoMember = household.head
    civil_affairs = housing_token(settings, "MZ")
    size = len(household.members)
    income = {"family_size": size, "annual_household_income": format(household.monthly_income_per_person * 12 * size, "f"),
              "per_capita_monthly_income": format(household.monthly_income_per_person, "f"),
              "income_period_start": "2025-11-01", "income_period_end": "2026-10-31"}
    application = file(live_server, civil_affairs, "MINIMUM_LIVING_APPLICATION",
                       envelope("dibao-1", head, members=[person(m) for m in household.members[1:]],
                                commitments=[{"proof": "INCOME", "values": income}], signature={"channel": "counter"}))
    assert items(application)["COMMUNITY_INCOME"] == "investigating"
    assert application["decision"] == "needs_review"
    assert any("待核查结果" in note for note in application["decision_detail"]["notes"])
    community = housing_token(settings, "SQ")
    [task] = httpx.get(f"{live_server}/api/v1/tasks", headers={"Authorization": f"Bearer {community}"}).json()
    assert task["application_id"] == application["id"] and task["fields"] == ["employment_status", "investigation_note"]
    bad = httpx.post(f"{live_server}/api/v1/tasks/{task['id']}/result", headers={"Authorization": f"Bearer {community}"},
                     json={"values": {"employment_status": "rich", "investigation_note": "入户核实"}})
    assert bad.status_code == 400 and bad.json()["errors"][0]["pointer"] == "#/values/employment_status"
    done = httpx.post(f"{live_server}/api/v1/tasks/{task['id']}/result", headers={"Authorization": f"Bearer {community}"},
                      json={"values": {"employment_status": "unemployed", "investigation_note": "入户核实，家庭困难属实"}})
    assert done.status_code == 200, done.text
    assert done.json() == {**task, "status": "done", "completed_at": done.json()["completed_at"]}
    assert done.json()["completed_at"] is not None
    assert head.name not in done.text  # the community reads no more of the application than its task
    after = httpx.get(f"{live_server}/api/v1/applications/{application['id']}",
                      headers={"Authorization": f"Bearer {civil_affairs}"}).json()
    assert items(after)["COMMUNITY_INCOME"] == "investigated"
    assert not any("待核查结果" in note for note in after["decision_detail"]["notes"])
    assert httpx.get(f"{live_server}/api/v1/tasks", headers={"Authorization": f"Bearer {community}"}).json() == []
    assert next(r for r in after["decision_detail"]["rules"] if r["code"] == "no_steady_employment_found")["result"]
    # members with no social insurance or housing fund (a child, someone out of work) are no gap
    assert after["decision"] == "eligible", after["decision_detail"]


def test_an_investigation_of_a_proof_since_dropped_leaves_the_task_list_and_takes_no_finding(
        settings: Settings, live_server: str) -> None:
    """A publication takes the community's 入户调查 (and the rule reading it) out of 低保 while an
    application waits for it: the community's task list still answers, without that task (it is
    not to be done), and a finding posted for it is refused as no longer required, deciding
    nothing; the application keeps its decision."""
    from api.database import standalone_session
    from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog
    from exchange.operations import Actor, publish_recorded

    civil_affairs, community = housing_token(settings, "MZ"), housing_token(settings, "SQ")
    application, task = minimum_living_waiting_for_the_community(settings, live_server, civil_affairs, community,
                                                                 "dibao-dropped-investigation")
    document = load_catalog(bundled_catalog_path()).to_document()
    dibao = next(m for m in document["matters"] if m["code"] == "MINIMUM_LIVING_APPLICATION")
    dibao["proofs"] = [p for p in dibao["proofs"] if p["proof"] != "COMMUNITY_INCOME"]
    dibao["rules"] = [r for r in dibao["rules"] if r["code"] != "no_steady_employment_found"]
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, catalog_from_document(document), "目录管理员", None, Actor())

    community_headers = {"Authorization": f"Bearer {community}"}
    listed = httpx.get(f"{live_server}/api/v1/tasks", headers=community_headers)
    assert listed.status_code == 200 and [t["id"] for t in listed.json()] == [], listed.text
    finding = httpx.post(f"{live_server}/api/v1/tasks/{task['id']}/result", headers=community_headers, timeout=30,
                         json={"values": {"employment_status": "unemployed", "investigation_note": "入户核实"}})
    assert finding.status_code == 409 and finding.json()["type"] == "/problems/conflict", finding.text
    assert "no longer requires" in finding.json()["detail"]
    after = httpx.get(f"{live_server}/api/v1/applications/{application['id']}",
                      headers={"Authorization": f"Bearer {civil_affairs}"}).json()
    assert after["decision"] == application["decision"] and after["decided_at"] == application["decided_at"]


def test_minimum_living_with_steady_employment_found_goes_to_a_caseworker(settings: Settings,
                                                                          live_server: str) -> None:
    """The community's 入户调查 finds the applicant in steady employment, which the income the
    applicant committed to does not show: not decided eligible, a caseworker weighs the income."""
    civil_affairs, community = housing_token(settings, "MZ"), housing_token(settings, "SQ")
    application, task = minimum_living_waiting_for_the_community(settings, live_server, civil_affairs, community,
                                                                 "dibao-employed")
    done = httpx.post(f"{live_server}/api/v1/tasks/{task['id']}/result", headers={"Authorization": f"Bearer {community}"},
                      json={"values": {"employment_status": "employed", "investigation_note": "在某公司有固定工作"}})
    assert done.status_code == 200, done.text
    after = httpx.get(f"{live_server}/api/v1/applications/{application['id']}",
                      headers={"Authorization": f"Bearer {civil_affairs}"}).json()
    assert after["decision"] == "needs_review", after["decision_detail"]
    assert next(r for r in after["decision_detail"]["rules"] if r["code"] == "no_steady_employment_found")["result"] is False
    second = httpx.post(f"{live_server}/api/v1/tasks/{task['id']}/result", headers={"Authorization": f"Bearer {community}"},
                        json={"values": {"employment_status": "unemployed", "investigation_note": "再次核实"}})
    assert second.status_code == 409 and second.json()["type"] == "/problems/conflict", second.text  # the first stands


def minimum_living_waiting_for_the_community(settings: Settings, base: str, civil_affairs: str, community: str,
                                             request_id: str, income_change: int = 0) -> tuple[dict[str, Any],
                                                                                              dict[str, Any]]:
    """A 低保 application filed by civil affairs with the applicant's income commitment (declared
    `income_change` yuan off the tax record), and the community's 入户调查 task it waits for."""
    [household] = households(settings, "minimum_living")
    size = len(household.members)
    declared = household.monthly_income_per_person + income_change
    income = {"family_size": size, "annual_household_income": format(declared * 12 * size, "f"),
              "per_capita_monthly_income": format(declared, "f"),
              "income_period_start": "2025-11-01", "income_period_end": "2026-10-31"}
    application = file(base, civil_affairs, "MINIMUM_LIVING_APPLICATION",
                       envelope(request_id, household.head, members=[person(m) for m in household.members[1:]],
                                commitments=[{"proof": "INCOME", "values": income}], signature={"channel": "counter"}))
    [task] = [task for task in httpx.get(f"{base}/api/v1/tasks", headers={"Authorization": f"Bearer {community}"}).json()
              if task["application_id"] == application["id"]]
    return application, task


def _teacher(household: DemoHousehold, request_id: str) -> dict[str, Any]:
    return envelope(request_id, household.head, options={"teaching_level": "primary"}, signature={"channel": "counter"},
                    commitments=[{"proof": "NO_CRIMINAL_RECORD", "values": {"has_criminal_record": False}},
                                 {"proof": "IDEOLOGICAL_CHARACTER", "values": {"commitment_signed": True,
                                                                               "signed_at": signed()}}])


def test_teacher_qualification_takes_a_commitment_and_post_check_finds_a_false_one(settings: Settings,
                                                                                   live_server: str) -> None:
    [graduate] = households(settings, "graduate")
    [convicted] = households(settings, "criminal_record")
    education = housing_token(settings, "JY")
    honest = file(live_server, education, "TEACHER_QUALIFICATION", _teacher(graduate, "teacher-1"))
    dishonest = file(live_server, education, "TEACHER_QUALIFICATION", _teacher(convicted, "teacher-2"))
    assert honest["decision"] == "eligible" and items(honest)["NO_CRIMINAL_RECORD"] == "committed"
    assert items(honest)["EDUCATION"] == "resolved"
    assert dishonest["decision"] in ("eligible", "needs_review")  # the commitment is believed until checked
    result = run_cli(cli_environment(settings.database_url, settings.var_dir), "commitments", "verify")
    assert result.returncode == 0, result.stderr
    checked = {application_id: httpx.get(f"{live_server}/api/v1/applications/{application_id}",
                                         headers={"Authorization": f"Bearer {education}"}).json()
               for application_id in (honest["id"], dishonest["id"])}
    statuses = {c["proof"]: c["status"] for c in checked[honest["id"]]["commitments"]}
    assert statuses == {"NO_CRIMINAL_RECORD": "confirmed", "IDEOLOGICAL_CHARACTER": "on_site"}
    flagged = checked[dishonest["id"]]
    assert flagged["flagged"] is True and flagged["decision"] == "needs_review"
    assert {c["proof"]: c["status"] for c in flagged["commitments"]}["NO_CRIMINAL_RECORD"] == "false"
    # the rule that read the commitment no longer shows it as holding: it is undecided, saying why
    rule = next(r for r in flagged["decision_detail"]["rules"] if r["code"] == "no_criminal_record")
    assert rule["result"] is None and rule["effect"] == "needs_review", rule
    assert "承诺经事后核查不实" in rule["error_zh"], rule


def test_a_teacher_qualification_without_a_degree_on_record_goes_to_a_caseworker(settings: Settings,
                                                                                  live_server: str) -> None:
    """A primary-school qualification needs no particular level, but it needs a degree: with none
    on record (a degree from abroad, or none) the application is not decided eligible."""
    education = housing_token(settings, "JY")
    for situation in ("public_housing_eligible", "minimum_living", "owner"):
        [household] = households(settings, situation)
        application = file(live_server, education, "TEACHER_QUALIFICATION", _teacher(household, f"teacher-{situation}"))
        if items(application)["EDUCATION"] == "not_found":
            break
    else:
        raise AssertionError("no demo applicant without a degree on record")
    assert application["decision"] == "needs_review", application["decision_detail"]
    assert next(r for r in application["decision_detail"]["rules"] if r["code"] == "education_on_record")["result"] is False


def test_business_startup_takes_the_premises_commitment(settings: Settings, live_server: str) -> None:
    [household] = households(settings, "graduate")
    application = file(live_server, housing_token(settings, "SCJG"), "BUSINESS_STARTUP",
                       envelope("startup-1", household.head, options={"premises_owned": False},
                                signature={"channel": "counter"},
                                commitments=[{"proof": "PREMISES_PROOF", "values": {
                                    "address": "金华市婺城区八一南街 88 号 3 楼", "right_type": "leased",
                                    "commitment_signed": True}}]))
    assert application["decision"] == "eligible"
    assert items(application) == {"PREMISES_PROOF": "committed", "REAL_ESTATE_CERT": "not_required"}
    [commitment] = application["commitments"]
    assert commitment["status"] == "on_site"  # no source holds premises: checked on site


def test_post_death_for_a_living_person_goes_to_a_caseworker(settings: Settings, live_server: str) -> None:
    """身后一件事 filed for a resident who is alive: no source holds a death certificate, the
    pension and insurance are active. The catalog sets no rules for the matter, so nothing may
    decide it eligible: a caseworker reads the data, told that the death certificate is missing."""
    [household] = households(settings, "newborn")
    living, relative = household.members[0], household.members[1]
    application = file(live_server, housing_token(settings, "GA"), "POST_DEATH",
                       envelope("post-death-1", relative, deceased=person(living)))
    assert application["status"] == "decided"
    assert application["decision"] == "needs_review", application["decision_detail"]
    assert items(application)["DEATH_MEDICAL"] == "not_found"
    death = next(item["proof_name_zh"] for item in application["items"] if item["proof"] == "DEATH_MEDICAL")
    notes = application["decision_detail"]["notes"]
    assert any(f"的“{death}”：来源部门无此记录" in note for note in notes), notes


def test_a_child_is_registered_only_by_a_parent_the_birth_certificate_names(settings: Settings,
                                                                           live_server: str) -> None:
    """新生儿出生一件事 filed by someone the birth certificate does not name as father or mother
    (a stranger, with their own household booklet): the registration is not decided eligible, a
    caseworker looks; the father it names gets it through, and the exit-entry matter asks him for
    no guardianship commitment, since the certificate shows he is a parent."""
    first, other = households(settings, "newborn", 2)
    baby = next(member for member in first.members if member.age == 0 and member.relation == "child")
    public_security = housing_token(settings, "GA")
    parent = file(live_server, public_security, "NEWBORN_BIRTH",
                  envelope("newborn-parent", first.head, members=[person(m) for m in first.members[1:]],
                           child=person(baby)))
    assert parent["decision"] == "eligible", parent["decision_detail"]

    stranger = file(live_server, public_security, "NEWBORN_BIRTH",
                    envelope("newborn-stranger", other.head, child=person(baby)))
    assert stranger["decision"] == "needs_review", stranger["decision_detail"]
    parent_rule = next(r for r in stranger["decision_detail"]["rules"] if r["code"] == "applicant_is_parent")
    assert parent_rule["result"] is False
    parts = {part["code"]: part["outcome"] for part in stranger["decision_detail"]["services"]}
    assert set(parts.values()) == {"needs_review"}, parts  # no department's part goes through for a stranger
    assert any(parent["case_number"] in note and "同一儿童" in note for note in stranger["decision_detail"]["notes"])

    exit_entry = file(live_server, public_security, "MINOR_EXIT_ENTRY",
                      envelope("exit-parent", first.head, members=[person(m) for m in first.members[1:]],
                               child=person(baby)))
    assert items(exit_entry)["GUARDIANSHIP"] == "not_required", exit_entry["items"]
    assert exit_entry["decision"] == "eligible", exit_entry["decision_detail"]

    other_guardian = file(live_server, public_security, "MINOR_EXIT_ENTRY", envelope(
        "exit-other-guardian", other.head, child=person(baby), signature={"channel": "counter"},
        commitments=[{"proof": "GUARDIANSHIP", "values": {"relation": "other_guardian", "commitment_signed": True}}]))
    assert other_guardian["decision"] == "needs_review", other_guardian["decision_detail"]  # checked at the window


def test_a_parents_second_child_is_no_duplicate_but_the_same_child_again_is(settings: Settings,
                                                                            live_server: str) -> None:
    """A father asks for exit-entry papers for each of his two children: two applications, neither
    a duplicate. Asked again for the same child under another case number, the caseworker is told."""
    family = next(h for h in households(settings, "newborn", 6)
                  if sum(1 for m in h.members if m.relation == "child") >= 2)
    first_child, second_child = [m for m in family.members if m.relation == "child"][:2]
    public_security = housing_token(settings, "GA")
    decided = [file(live_server, public_security, "MINOR_EXIT_ENTRY",
                    envelope(f"exit-child-{n}", family.head, child=person(child)))
               for n, child in enumerate((first_child, second_child))]
    for application in decided:
        assert not any("重复申请" in note for note in application["decision_detail"]["notes"]), application["decision_detail"]
    again = file(live_server, public_security, "MINOR_EXIT_ENTRY", envelope("exit-child-again", family.head,
                                                                            child=person(first_child)))
    assert again["decision"] == "needs_review"
    assert any(decided[0]["case_number"] in note for note in again["decision_detail"]["notes"]), again["decision_detail"]


def test_the_other_parent_filing_for_the_same_child_is_told_of_the_first(settings: Settings,
                                                                         live_server: str) -> None:
    """The father registers the newborn; the mother, not naming him, files 新生儿出生一件事 for the
    same child at another window: not a second registration and a second social security card, but
    a caseworker told of the father's case. A brother's filing is no duplicate of it."""
    family = next(h for h in households(settings, "newborn", 6)
                  if any(m.relation == "spouse" for m in h.members))
    baby = next(member for member in family.members if member.age == 0 and member.relation == "child")
    mother = next(member for member in family.members if member.relation == "spouse")
    father = file(live_server, housing_token(settings, "GA"), "NEWBORN_BIRTH",
                  envelope("newborn-father", family.head, members=[person(m) for m in family.members[1:]],
                           child=person(baby)))
    assert father["decision"] == "eligible", father["decision_detail"]
    by_mother = file(live_server, housing_token(settings, "RS"), "NEWBORN_BIRTH",
                     envelope("newborn-mother", mother, child=person(baby)))
    assert by_mother["decision"] == "needs_review", by_mother["decision_detail"]
    assert any(father["case_number"] in note and "同一儿童" in note and "重复申请" in note
               for note in by_mother["decision_detail"]["notes"]), by_mother["decision_detail"]["notes"]
