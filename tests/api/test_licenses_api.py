"""E-licenses over real HTTP, on both databases: a department system issues a 结婚证, the holder
sees it in 我的证照 and shows it (亮证) with chosen items once; amending supersedes the old
version; revoking turns every form invalid; and the problems for everything else."""

from __future__ import annotations

import html
import json
import re
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from sqlalchemy import select

from api.database import standalone_session
from api.settings import Settings
from catalog.city_time import BEIJING
from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog
from catalog.versions import read_live_catalog
from exchange.operations import Actor, publish_recorded
from core.base64url import b64url_decode
from exchange.access_log import AccessRecord
from exchange.clients import ClientScope, register_client
from demo.data import DemoResident, sample_residents

OFFICER = Actor(operator="os-user:test")

SPOUSE_ID = "330702199003071233"


@pytest.fixture
def resident(settings: Settings) -> DemoResident:
    return sample_residents(settings.sources_dir, 1)[0]


def client(settings: Settings, department: str, scopes: list[str]) -> dict[str, str]:
    with standalone_session(settings.database_url) as session:
        _, token = register_client(session, read_live_catalog(session), department, "证照管理系统", scopes)
    return {"Authorization": f"Bearer {token}"}


def signed_in(base: str, person: DemoResident) -> dict[str, str]:
    response = httpx.post(f"{base}/dev-idp/token", json={"name": person.name, "id_number": person.id_number})
    return {"Authorization": f"Bearer {response.json()['assertion']}"}


def marriage(person: DemoResident, reference: str = "MZ-2026-000123") -> dict:
    return {
        "license_type": "MARRIAGE_CERTIFICATE", "reference": reference,
        "holder": {"name": person.name, "id_number": person.id_number},
        "items": {"certificate_no": "J330702-2026-000123", "full_name": person.name, "id_number": person.id_number,
                  "marital_status": "married", "registration_date": "2026-05-20", "spouse_name": "李明",
                  "spouse_id_number": SPOUSE_ID, "registration_authority": "金华市婺城区民政局"},
    }


def verdict(base: str, text: str) -> dict:
    response = httpx.post(f"{base}/api/v1/licenses/verification", json={"license": text}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def checks(result: dict) -> dict[str, tuple[str, str]]:
    return {c["check"]: (c["status"], c["code"]) for c in result["checks"]}


def test_issue_hold_show_amend_and_revoke(settings: Settings, live_server: str, resident: DemoResident) -> None:
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident), timeout=30)
    assert issued.status_code == 201, issued.text
    first = issued.json()
    assert first["identifier"].startswith("1.2.156.3005.2.2003.") and first["version"] == 1
    assert first["issuer_name_zh"] == "金华市民政局" and first["status"] == "valid"
    again = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident), timeout=30)
    assert again.status_code == 200 and again.json()["identifier"] == first["identifier"]

    me = signed_in(live_server, resident)
    wallet = httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()
    assert (wallet[0]["license_name_zh"], wallet[0]["identifier"]) == ("结婚证", first["identifier"])  # newest first
    assert {i["name"]: i["text_zh"] for i in wallet[0]["items"]}["marital_status"] == "已婚"
    credential = httpx.get(live_server + wallet[0]["links"]["credential"], headers=me).text
    assert verdict(live_server, credential)["status"] == "VALID"

    shown = httpx.post(live_server + wallet[0]["links"]["presentations"], headers=me,
                       json={"items": ["marital_status", "spouse_name"], "minutes": 3}, timeout=30)
    assert shown.status_code == 201, shown.text
    presentation = shown.json()["presentation"]
    assert SPOUSE_ID not in presentation and resident.id_number not in presentation
    checked = verdict(live_server, presentation)
    assert checked["status"] == "VALID" and checked["form"] == "presentation"
    assert {i["name"]: i["text_zh"] for i in checked["items"]} == {"marital_status": "已婚", "spouse_name": "李明"}
    reused = verdict(live_server, presentation)
    assert reused["status"] == "INVALID" and checks(reused)["nonce"] == ("INVALID", "nonce_reused")
    by_reference = httpx.post(f"{live_server}/api/v1/licenses/verification",
                              json={"reference": shown.json()["reference"]}, timeout=30).json()
    assert checks(by_reference)["nonce"] == ("INVALID", "nonce_reused")  # the same presentation, kept for its QR
    unknown = httpx.post(f"{live_server}/api/v1/licenses/verification", json={"reference": "x" * 43})
    assert unknown.status_code == 404

    amended = httpx.post(f"{live_server}/api/v1/licenses/{first['identifier']}/amendments", headers=mz,
                         json={"changes": {"spouse_name": "李明明"}}, timeout=30)
    assert amended.status_code == 201, amended.text
    second = amended.json()
    assert second["version"] == 2 and second["identifier"] != first["identifier"]
    assert [(v["version"], v["status"]) for v in second["versions"]] == [(1, "superseded"), (2, "valid")]
    old = verdict(live_server, credential)
    assert old["status"] == "INVALID" and old["revocation_reason"] == "superseded"
    by_old = httpx.get(f"{live_server}/api/v1/licenses/{first['identifier']}", headers=mz).json()
    assert by_old["identifier"] == second["identifier"]  # any version's identifier names the license
    ga = client(settings, "GA", [ClientScope.LICENSES_WRITE])
    assert httpx.get(f"{live_server}/api/v1/licenses/{first['identifier']}", headers=ga).status_code == 404
    made_up = first["identifier"][:-3] + "ZZZ"
    for action, body in (("amendments", {"changes": {"spouse_name": "王五"}}), ("revocation", {"reason": "issued_in_error"})):
        # another department's license reads as none: nothing says it exists
        theirs = httpx.post(f"{live_server}/api/v1/licenses/{first['identifier']}/{action}", headers=ga, json=body)
        none = httpx.post(f"{live_server}/api/v1/licenses/{made_up}/{action}", headers=ga, json=body)
        assert theirs.status_code == none.status_code == 404, (theirs.text, none.text)
        assert {**theirs.json(), "instance": None} == \
            {**none.json(), "instance": None, "detail": none.json()["detail"].replace(made_up, first["identifier"])}
    stale = httpx.post(f"{live_server}/api/v1/licenses/{first['identifier']}/amendments", headers=mz,
                       json={"changes": {"spouse_name": "王五"}})
    assert stale.status_code == 409 and stale.headers["content-type"] == "application/problem+json"

    current = httpx.get(live_server + second["links"]["credential"], headers=me).text
    shown_again = httpx.post(live_server + second["links"]["presentations"], headers=me,
                             json={"items": ["marital_status"]}, timeout=30).json()["presentation"]
    revoked = httpx.post(f"{live_server}/api/v1/licenses/{first['identifier']}/revocation", headers=mz,
                         json={"reason": "issued_in_error"}, timeout=30)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    for text in (current, shown_again):
        result = verdict(live_server, text)
        assert result["status"] == "INVALID" and result["revocation_reason"] == "issued_in_error"
    refused = httpx.post(live_server + second["links"]["presentations"], headers=me, json={"items": ["marital_status"]})
    assert refused.status_code == 409
    # no freshly sealed page of it either: printed, it would look in force, its QR code naming no status
    for form in (second, first):
        pdf = httpx.get(live_server + form["links"]["pdf"], headers=me, timeout=30)
        assert pdf.status_code == 409 and pdf.json()["type"] == "/problems/conflict", pdf.text
    assert httpx.get(f"{live_server}/api/v1/licenses/{second['identifier']}/pdf", headers=mz,
                     timeout=30).status_code == 200  # the issuer's record copy


def test_a_license_sealed_with_a_compromised_seal_reads_as_no_longer_valid(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """The issuing department's seal key is stolen and the seal revoked for key compromise: every
    verifier now calls the 结婚证 it sealed 无效. The holder's 我的证照, and the department's own
    view, say so (and offer no 亮证 of it), until the department issues it again under its new
    seal: one command re-seals every such license, unchanged, and is safe to run again."""
    from tests.api.test_exchange_requests import assertion
    from tests.support.cli import cli_environment, run_cli

    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    first = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident), timeout=30).json()
    me = signed_in(live_server, resident)
    held = httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()[0]
    credential = httpx.get(live_server + held["links"]["credential"], headers=me).text
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    consented = httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30})
    assert consented.status_code == 201, consented.text
    uses = f"{live_server}/api/v1/exchange/license-uses"
    before = httpx.post(uses, headers=zj, json=use_request(resident, "sealed-before"), timeout=30)
    assert before.status_code == 200, before.text
    env = cli_environment(settings.database_url, settings.var_dir)
    revoked = run_cli(env, "seal", "revoke", "MZ", "--reason", "key_compromise")
    assert revoked.returncode == 0 and "mianzheng license reseal MZ" in revoked.stderr, revoked.stderr
    assert run_cli(env, "seal", "issue", "MZ").returncode == 0
    assert "mianzheng license reseal MZ" in run_cli(env, "init").stdout  # an upgrade's init says so too
    assert verdict(live_server, credential)["status"] == "INVALID"
    wallet = httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()
    assert (wallet[0]["identifier"], wallet[0]["status"]) == (first["identifier"], "seal_revoked")
    assert httpx.get(f"{live_server}/api/v1/licenses/{first['identifier']}", headers=mz).json()["status"] == "seal_revoked"
    page = httpx.get(f"{live_server}/portal/licenses", cookies={"mz_identity": assertion(live_server, resident)}).text
    section = page[page.index(f'data-identifier="{first["identifier"]}"'):]
    section = section[:section.index("</section>")]
    assert "已失效" in section and "重新签发" in section and "亮证" not in section, section
    shown = httpx.post(live_server + held["links"]["presentations"], headers=me,
                       json={"items": ["marital_status"], "minutes": 3}, timeout=30)
    assert shown.status_code == 409, shown.text
    waiting = httpx.post(uses, headers=zj, json=use_request(resident, "unsealed-1"), timeout=30)
    assert waiting.status_code == 503 and int(waiting.headers["Retry-After"]) > 0, waiting.text
    assert "license reseal MZ" in waiting.json()["detail"] and "usage_copy" not in waiting.text
    resealed = run_cli(env, "license", "reseal", "MZ")
    assert resealed.returncode == 0, resealed.stdout + resealed.stderr
    count = re.search(r"重新签发 (\d+) 本", resealed.stdout)  # the demo library's 结婚证 of MZ too
    assert count and int(count.group(1)) >= 1, resealed.stdout
    renewed = httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()[0]
    assert (renewed["version"], renewed["status"]) == (2, "valid"), renewed
    assert {i["name"]: i["text_zh"] for i in renewed["items"]} == {i["name"]: i["text_zh"] for i in held["items"]}
    fresh = httpx.get(live_server + renewed["links"]["credential"], headers=me).text
    assert verdict(live_server, fresh)["status"] == "VALID"
    assert "没有需要重新签发" in run_cli(env, "license", "reseal", "MZ").stdout
    assert "license reseal" not in run_cli(env, "init").stdout
    used = httpx.post(uses, headers=zj, json=use_request(resident, "unsealed-1"), timeout=30)  # the same id again
    assert used.status_code == 200 and verdict(live_server, used.json()["usage_copy"])["status"] == "VALID", used.text
    # the department's retry of a use answered before the compromise: not its copy, which no verifier takes
    assert verdict(live_server, before.json()["usage_copy"])["status"] == "INVALID"
    replayed = httpx.post(uses, headers=zj, json=use_request(resident, "sealed-before"), timeout=30)
    assert replayed.status_code == 409 and "new request id" in replayed.json()["detail"], replayed.text
    assert "usage_copy" not in replayed.text


def test_a_use_replayed_after_a_divorce_does_not_hand_out_已婚_again(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """A department's retry of a 用证 of the 结婚证, after a 离婚证 was registered: a new request
    finds no 结婚证 stating the holder's marital status, and the retry hands out no usage copy
    saying 已婚 either."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident), timeout=30).status_code == 201
    me = signed_in(live_server, resident)
    consented = httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30})
    assert consented.status_code == 201, consented.text
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    uses = f"{live_server}/api/v1/exchange/license-uses"
    before = httpx.post(uses, headers=zj, json=use_request(resident, "before-divorce"), timeout=30)
    assert before.status_code == 200 and before.json()["answer"]["data"]["marital_status"] == "married", before.text
    divorce = marriage(resident, "MZ-L-2026-000001")
    divorce["license_type"] = "DIVORCE_CERTIFICATE"
    divorce["items"] = {**divorce["items"], "marital_status": "divorced", "registration_date": "2026-09-01"}
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=divorce, timeout=30).status_code == 201
    fresh = httpx.post(uses, headers=zj, json=use_request(resident, "after-divorce"), timeout=30)
    assert fresh.status_code == 404, fresh.text
    replayed = httpx.post(uses, headers=zj, json=use_request(resident, "before-divorce"), timeout=30)
    assert replayed.status_code == 409 and "married" not in replayed.text, replayed.text


def test_resealing_keeps_a_license_as_it_was_and_a_later_divorce_standing(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """A 结婚证 with no registration date, sealed with a seal later revoked for key compromise, and
    a 离婚证 issued after it under the next seal: re-sealing the 结婚证 keeps when it took effect,
    and the 离婚证 still answers 婚姻状况 — a re-sealing is not a new marriage."""
    from api.license_services import build_library
    from api.runtime import Runtime
    from catalog.model import Subject
    from core.clock import utc_now
    from exchange.licenses.service import current_license
    from tests.support.cli import cli_environment, run_cli

    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    env = cli_environment(settings.database_url, settings.var_dir)

    def undated(license_type: str, status: str, reference: str) -> dict:
        body = marriage(resident, reference)
        body["license_type"] = license_type
        body["items"] = {**body["items"], "marital_status": status, "registration_date": None}
        issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=body, timeout=30)
        assert issued.status_code == 201, issued.text
        return issued.json()

    married = undated("MARRIAGE_CERTIFICATE", "married", "MZ-J-UNDATED")
    old_seal = run_cli(env, "seal", "list", "MZ").stdout.split("序列号")[1].split()[0]
    assert run_cli(env, "seal", "rotate", "MZ").returncode == 0
    divorced = undated("DIVORCE_CERTIFICATE", "divorced", "MZ-L-UNDATED")
    assert run_cli(env, "seal", "revoke", "MZ", "--reason", "key_compromise", "--serial", old_seal).returncode == 0
    assert run_cli(env, "license", "reseal", "MZ").returncode == 0

    resealed = httpx.get(f"{live_server}/api/v1/licenses/{married['identifier']}", headers=mz).json()
    assert resealed["version"] == 2 and resealed["status"] == "replaced", resealed  # by the 离婚证, as before
    assert resealed["replaced_by"] == "DIVORCE_CERTIFICATE"
    first, second = resealed["versions"]
    assert second["valid_from"] == first["valid_from"]  # in force as it was, not from the re-sealing
    current = Runtime.start(settings)
    try:
        library = build_library(current, current.published_catalog()[0])
        with current.sessions() as session:
            found = current_license(session, library, ["MARRIAGE_CERTIFICATE", "DIVORCE_CERTIFICATE"], Subject.PERSON,
                                    resident.id_number, utc_now())
    finally:
        current.engine.dispose()
    assert found is not None and found[1].identifier == divorced["identifier"]


def test_a_selection_of_items_without_its_binding_is_not_a_license(settings: Settings, live_server: str,
                                                                    resident: DemoResident) -> None:
    """A 亮证 verifies once, within minutes; a usage copy only for its use. Stripped of its binding
    JWT, or taken out of the usage copy, the selection of items they carry is not the holder's
    license credential (which discloses every item) and does not verify as one, for ever."""
    import json

    from core.base64url import b64url_decode

    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-SEL-1"),
                        timeout=30).json()
    me = signed_in(live_server, resident)
    shown = httpx.post(live_server + issued["links"]["presentations"], headers=me,
                       json={"items": ["marital_status"], "minutes": 1}, timeout=30).json()["presentation"]
    stripped = shown[:shown.rindex("~") + 1]  # the issuer's JWT and the chosen disclosure, without the binding
    httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30})
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    used = httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=zj,
                      json=use_request(resident, "gzf-sel-1"), timeout=30).json()
    taken_out = json.loads(b64url_decode(used["usage_copy"].split(".")[1]))["license"]
    for text in (stripped, taken_out):
        result = verdict(live_server, text)
        assert (result["status"], result["form"]) == ("INVALID", "license"), result["status"]
        assert checks(result)["integrity"] == ("INVALID", "items_withheld")
    whole = httpx.get(live_server + issued["links"]["credential"], headers=me).text
    assert verdict(live_server, whole)["status"] == "VALID"  # the holder's own credential, every item disclosed


def test_the_consent_preview_names_every_item_a_license_use_on_that_consent_releases(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """授权前确认 for 婚姻状况 at the housing bureau lists what the bureau receives, also where it
    uses the 结婚证 instead of pulling the record: the 用证清单's items (the spouse's name, the
    registration date) are released on that same consent, so the citizen is told of them first."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-PREVIEW-1"),
                      timeout=30).status_code == 201
    me = signed_in(live_server, resident)
    terms = {"matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30}
    preview = httpx.post(f"{live_server}/api/v1/me/consents/preview", headers=me, json=terms)
    assert preview.status_code == 200, preview.text
    [proof] = preview.json()["proofs"]
    assert httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json=terms).status_code == 201
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    used = httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=zj,
                      json=use_request(resident, "gzf-preview-1"), timeout=30)
    assert used.status_code == 200, used.text
    with standalone_session(settings.database_url) as session:
        marriage_type = read_live_catalog(session).licenses["MARRIAGE_CERTIFICATE"]
    released = used.json()["answer"]["data"]
    assert {"spouse_name", "registration_date"} <= set(released)
    listed = proof["items_zh"]
    assert {marriage_type.item("spouse_name").name_zh, marriage_type.item("registration_date").name_zh} <= set(listed)
    assert len(listed) == len(released), listed  # each item released is listed once


def test_a_presentation_verified_as_it_expires_stays_used_when_another_verification_sweeps_meanwhile(
        settings: Settings, live_server: str, resident: DemoResident, monkeypatch: pytest.MonkeyPatch) -> None:
    """A presentation verified once is shown again a second before it expires. Meanwhile another
    verification, on a host whose clock is ahead, sweeps the nonces that expired by its clock:
    the second verification must still find the nonce and refuse the presentation as reused."""
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite: a verification's own sweep holds the write lock until it commits, so no other "
                    "verification can sweep between its sweep and its claim")
    from datetime import datetime as real_datetime, timedelta, timezone

    import api.license_services as services
    from exchange.licenses.nonces import sweep_nonces

    me = signed_in(live_server, resident)
    wallet = httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()
    shown = httpx.post(live_server + wallet[0]["links"]["presentations"], headers=me,
                       json={"items": [wallet[0]["items"][0]["name"]], "minutes": 1}, timeout=30).json()
    assert verdict(live_server, shown["presentation"])["status"] == "VALID"
    expires = real_datetime.fromisoformat(shown["expires_at"])

    class JustBeforeExpiry(real_datetime):
        @classmethod
        def now(cls, tz: timezone | None = None) -> real_datetime:  # type: ignore[override]
            return expires - timedelta(seconds=1)

    claiming = services.claim_nonce

    def swept_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        with standalone_session(settings.database_url) as other:  # the other host, its clock 2 s ahead
            sweep_nonces(other, expires + timedelta(seconds=1))
            other.commit()
        return claiming(*args, **kwargs)

    monkeypatch.setattr(services, "datetime", JustBeforeExpiry)
    monkeypatch.setattr(services, "claim_nonce", swept_meanwhile)
    again = verdict(live_server, shown["presentation"])
    assert again["status"] == "INVALID" and checks(again)["nonce"] == ("INVALID", "nonce_reused"), again


def test_a_license_at_its_last_version_number_is_refused_further_amendment_with_what_to_do(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """A license identifier has room for 99 versions: the 99th amendment is a conflict that says
    to revoke the license and issue a new one, not an internal error the department's system
    would retry for ever. After a key compromise, `license reseal` cannot seal it anew either, and
    says so (exit 5, naming it) rather than counting it as changed meanwhile. The license can
    still be revoked."""
    from tests.support.cli import cli_environment, run_cli

    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    current = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-MANY-1"),
                         timeout=30).json()["identifier"]
    with httpx.Client(base_url=live_server, headers=mz, timeout=30) as department:
        for number in range(98):
            amended = department.post(f"/api/v1/licenses/{current}/amendments",
                                      json={"changes": {"spouse_name": ("李明", "李明明")[number % 2]}})
            assert amended.status_code == 201, amended.text
            current = amended.json()["identifier"]
        refused = department.post(f"/api/v1/licenses/{current}/amendments", json={"changes": {"spouse_name": "王五"}})
        assert refused.status_code == 409 and refused.json()["type"].endswith("/conflict"), refused.text
        assert "revoke" in refused.json()["detail"], refused.text
        env = cli_environment(settings.database_url, settings.var_dir)
        assert run_cli(env, "seal", "revoke", "MZ", "--reason", "key_compromise").returncode == 0
        assert run_cli(env, "seal", "issue", "MZ").returncode == 0
        resealed = run_cli(env, "license", "reseal", "MZ")
        assert resealed.returncode == 5 and current in resealed.stderr and "注销" in resealed.stderr, \
            resealed.stdout + resealed.stderr
        assert "在此期间" not in resealed.stdout, resealed.stdout
        assert department.post(f"/api/v1/licenses/{current}/revocation",
                               json={"reason": "issued_in_error"}).status_code == 200


@pytest.mark.parametrize(("where", "value"), [("items", "\ufffd😀"), ("holder", "张𠮷")])
def test_a_license_the_font_cannot_print_is_refused_at_issuance(settings: Settings, live_server: str,
                                                                resident: DemoResident, where: str,
                                                                value: str) -> None:
    """Text the license's face cannot print is refused when the license is issued, naming the
    field, rather than accepted and then failing every time its PDF is asked for."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    body = marriage(resident, "MZ-GLYPH-1")
    if where == "items":
        body["items"]["registration_authority"] = value
    else:
        body["holder"]["name"] = value
    refused = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=body, timeout=30)
    assert refused.status_code == 400, refused.text
    pointer = "#/items/registration_authority" if where == "items" else "#/holder/name"
    assert refused.json()["errors"][0]["pointer"] == pointer
    assert httpx.get(f"{live_server}/api/v1/licenses/MZ-GLYPH-1", headers=mz).status_code == 404


@pytest.mark.parametrize("path", ["/licenses", "/licenses/x/amendments", "/licenses/x/revocation",
                                  "/exchange/license-uses", "/exchange/license-uses/usage-copy.pdf",
                                  "/me/licenses/x/presentations", "/org/licenses/x/presentations"])
def test_a_stranger_is_told_to_authenticate_before_anything_about_the_body(live_server: str, path: str) -> None:
    answer = httpx.post(f"{live_server}/api/v1{path}", json={"unexpected": True})
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json" and "errors" not in answer.json()


def test_a_malformed_holder_id_number_is_an_input_error_not_an_invalid_license(
        live_server: str, resident: DemoResident) -> None:
    """A verifier who mistypes the holder's ID number is told so; the genuine license is not
    reported INVALID as if it were someone else's."""
    me = signed_in(live_server, resident)
    wallet = httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()
    credential = httpx.get(live_server + wallet[0]["links"]["credential"], headers=me).text
    for typed in ("ABCDEFGHIJKLMNOP", resident.id_number[:-1] + ("0" if resident.id_number[-1] != "0" else "1")):
        answer = httpx.post(f"{live_server}/api/v1/licenses/verification", timeout=30,
                            json={"license": credential, "id_number": typed})
        assert answer.status_code == 400 and answer.json()["errors"][0]["pointer"] == "#/id_number", answer.text
        page = httpx.post(f"{live_server}/verify/licenses", data={"license": credential, "id_number": typed},
                          timeout=30)
        assert page.status_code == 400 and "持有人公民身份号码格式不正确" in page.text
        assert credential in html.unescape(page.text) and typed not in page.text  # the paste kept, not the number
        assert re.search(r'<input name="id_number"[^>]*aria-invalid="true" aria-describedby="id-number-error"',
                         page.text)
        assert '<span class="error field-error" id="id-number-error">持有人公民身份号码格式不正确' in page.text
    typed_with_spaces = " ".join([resident.id_number[:6], resident.id_number[6:14], resident.id_number[14:]])
    page = httpx.post(f"{live_server}/verify/licenses", data={"license": credential, "id_number": typed_with_spaces},
                      timeout=30)
    assert page.status_code == 200 and "有效" in page.text


def test_a_number_of_days_or_minutes_with_a_fraction_is_refused_not_cut(live_server: str,
                                                                       resident: DemoResident) -> None:
    """`days: 1.5` or `minutes: 2.9` are not whole numbers: refused naming the field, as the
    string "1.5" is, rather than silently cut to 1 day or 2 minutes."""
    me = signed_in(live_server, resident)
    wallet = httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()
    shown = httpx.post(live_server + wallet[0]["links"]["presentations"], headers=me,
                       json={"items": [wallet[0]["items"][0]["name"]], "minutes": 2.9}, timeout=30)
    assert shown.status_code == 400 and shown.json()["errors"][0]["pointer"] == "#/minutes", shown.text
    consent = httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 1.5})
    assert consent.status_code == 400 and consent.json()["errors"][0]["pointer"] == "#/days", consent.text
    assert httpx.get(f"{live_server}/api/v1/me/consents", headers=me).json() == []


def test_only_the_issuing_department_with_the_scope_issues(settings: Settings, live_server: str,
                                                           resident: DemoResident) -> None:
    me = signed_in(live_server, resident)
    before = [w["identifier"] for w in httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()]
    ga = client(settings, "GA", [ClientScope.LICENSES_WRITE])
    refused = httpx.post(f"{live_server}/api/v1/licenses", headers=ga, json=marriage(resident))
    assert refused.status_code == 403 and refused.json()["type"].endswith("/forbidden-by-policy")
    no_scope = client(settings, "MZ", [ClientScope.EXCHANGE_REQUEST])
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=no_scope, json=marriage(resident)).status_code == 403

    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    wrong = marriage(resident)
    wrong["items"]["marital_status"] = "divorced"
    bad = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=wrong)
    assert bad.status_code == 400
    assert bad.json()["errors"] == [{"pointer": "#/items/marital_status", "detail": "must be one of married"}]
    organisation = {**marriage(resident), "holder": {"name": "某公司", "uscc": "91330700MA2D0K9X4L"}}
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=organisation).status_code == 400
    assert [w["identifier"] for w in httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()] == before


def test_a_reference_reused_for_another_license_is_a_conflict(settings: Settings, live_server: str,
                                                              resident: DemoResident) -> None:
    """The same reference with the same body returns the license issued first (a retry); with
    another body (another holder, other items) it is a 409 naming the reference, and nothing is
    issued: the department learns its second license was not made."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    url = f"{live_server}/api/v1/licenses"
    first = httpx.post(url, headers=mz, json=marriage(resident, "MZ-REUSED-1"), timeout=30)
    assert first.status_code == 201, first.text
    retried = httpx.post(url, headers=mz, json=marriage(resident, "MZ-REUSED-1"), timeout=30)
    assert retried.status_code == 200 and retried.json()["identifier"] == first.json()["identifier"]
    other = sample_residents(settings.sources_dir, 2)[1]
    for body in (marriage(other, "MZ-REUSED-1"),
                 {**marriage(resident, "MZ-REUSED-1"), "items": {**marriage(resident)["items"], "spouse_name": "李明明"}}):
        reused = httpx.post(url, headers=mz, json=body, timeout=30)
        assert reused.status_code == 409 and reused.json()["type"].endswith("/conflict"), reused.text
        assert reused.json()["errors"][0]["pointer"] == "#/reference"
        assert other.id_number not in reused.text and resident.id_number not in reused.text
    wallet = httpx.get(f"{live_server}/api/v1/me/licenses", headers=signed_in(live_server, other)).json()
    assert first.json()["identifier"] not in {w["identifier"] for w in wallet}


def test_the_demo_residents_hold_licenses_of_every_type(settings: Settings, live_server: str) -> None:
    """`mianzheng init` imported the demo licenses: every type is held by someone, and the
    first sample resident (a married head of household) holds her 户口簿 and 结婚证."""
    from sqlalchemy import create_engine, func, select

    from exchange.licenses.records import LicenseRecord

    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        types = set(connection.scalars(select(LicenseRecord.license_type).group_by(LicenseRecord.license_type)))
        duplicates = connection.scalar(select(func.count()).select_from(LicenseRecord)) - connection.scalar(
            select(func.count(func.distinct(LicenseRecord.reference))))
        references = list(connection.scalars(select(LicenseRecord.reference)))
    engine.dispose()
    catalog = httpx.get(f"{live_server}/api/v1/catalog/licenses").json()
    assert types == {t["code"] for t in catalog} and duplicates == 0
    # a reference is stored and repeated in clear: it never carries the holder's ID number
    assert not [r for r in references if re.search(r"[0-9]{17}[0-9X]", r)], references[:3]
    first = sample_residents(settings.sources_dir, 1)[0]
    held = {w["license_name_zh"] for w in httpx.get(f"{live_server}/api/v1/me/licenses",
                                                    headers=signed_in(live_server, first)).json()}
    assert {"居民户口簿", "结婚证"} <= held


def test_the_license_catalog_is_published(live_server: str) -> None:
    types = httpx.get(f"{live_server}/api/v1/catalog/licenses").json()
    assert len(types) >= 10
    marriage_type = httpx.get(f"{live_server}/api/v1/catalog/licenses/MARRIAGE_CERTIFICATE").json()
    assert marriage_type["department"] == "MZ" and marriage_type["uses"][0]["matter"] == "PUBLIC_RENTAL_HOUSING"
    assert httpx.get(f"{live_server}/api/v1/catalog/licenses/NOPE").status_code == 404


def use_request(person: DemoResident, request_id: str = "gzf-000123-lic-1") -> dict:
    return {"request_id": request_id, "caseworker_id": "zj-0042", "case_number": "GZF-2026-000123",
            "matter": "PUBLIC_RENTAL_HOUSING", "license_type": "MARRIAGE_CERTIFICATE", "purpose": "公租房资格审核",
            "subject": {"id_number": person.id_number, "name": person.name}}


def test_licenses_held_count_only_those_in_force(settings: Settings, live_server: str, resident: DemoResident) -> None:
    """The dashboard's 有效持有: a 驾驶证 imported from the old system that lapsed in 2016, or one
    issued to take effect next year, is held but not valid; only one in force counts."""
    ga = client(settings, "GA", [ClientScope.LICENSES_WRITE])

    def held() -> int:
        rows = httpx.get(f"{live_server}/api/v1/statistics/licenses").json()
        return next(row["held"] for row in rows if row["license_type"] == "DRIVING_LICENSE")

    def driving(reference: str, valid_from: str, valid_until: str) -> dict:
        return {"license_type": "DRIVING_LICENSE", "reference": reference,
                "holder": {"name": resident.name, "id_number": resident.id_number},
                "valid_from": valid_from, "valid_until": valid_until,
                "items": {"license_no": resident.id_number, "full_name": resident.name, "id_number": resident.id_number,
                          "vehicle_classes": ["c1"], "first_issued": valid_from, "valid_from": valid_from,
                          "valid_until": valid_until}}

    before = held()
    for reference, valid_from, valid_until, status in (("GA-DL-LAPSED", "2010-01-01", "2016-01-01", "expired"),
                                                       ("GA-DL-LATER", "2099-01-01", "2105-01-01", "not_yet_valid")):
        issued = httpx.post(f"{live_server}/api/v1/licenses", headers=ga, timeout=30,
                            json=driving(reference, valid_from, valid_until))
        assert issued.status_code == 201 and issued.json()["status"] == status, issued.text
        assert held() == before, reference


def _about_someone_else(person: DemoResident, case: str) -> tuple[str, dict, str]:
    """A license whose items contradict its holder: (issuing department, body, the item at fault)."""
    holder = {"name": person.name, "id_number": person.id_number}
    born = person.id_number[6:10] + "-" + person.id_number[10:12] + "-" + person.id_number[12:14]
    if case == "married-to-self":
        body = marriage(person, "MZ-SELF-1")
        body["items"] = {**body["items"], "spouse_name": person.name, "spouse_id_number": person.id_number}
        return "MZ", body, "spouse_id_number"
    if case == "married-before-born":
        body = marriage(person, "MZ-UNBORN-1")
        body["items"] = {**body["items"], "registration_date": str(int(born[:4]) - 40) + born[4:]}
        return "MZ", body, "registration_date"
    birth = {"license_type": "BIRTH_CERTIFICATE", "reference": f"WJ-{case}", "holder": holder,
             "items": {"certificate_no": "P330000999", "newborn_name": person.name, "gender": "male",
                       "birth_datetime": born + "T02:14:00+08:00", "birth_place": "浙江省金华市", "institution": "金华市人民医院",
                       "mother_name": "王芳", "mother_id_number": SPOUSE_ID, "father_name": "刘强",
                       "father_id_number": "330702197501010020"}}
    if case == "born-another-day":
        birth["items"]["birth_datetime"] = "1999-01-01T02:14:00+08:00"
        return "WJ", birth, "birth_datetime"
    if case == "own-mother":
        birth["items"]["mother_id_number"] = person.id_number
        return "WJ", birth, "mother_id_number"
    if case == "born-in-utc":  # 01:00 on the birthday in Beijing: 17:00 the day before in UTC
        day = date.fromisoformat(born) - timedelta(days=1)
        birth["items"]["birth_datetime"] = f"{day}T17:00:00Z"
        return "WJ", birth, "birth_datetime"
    return "GA", {"license_type": "HUKOU_BOOKLET", "reference": "GA-HK-ELSEWHERE", "holder": holder, "items": {
        "household_no": "330000999", "household_head": "王五", "household_type": "family", "address": "金华市某路1号",
        "members": [{"name": "王五", "id_number": SPOUSE_ID, "relation": "head"}],
        "registration_authority": "金华市公安局"}}, "members"


@pytest.mark.parametrize("case", ["married-to-self", "married-before-born", "born-another-day", "own-mother",
                                  "not-a-member"])
def test_a_license_whose_items_contradict_its_holder_is_refused(settings: Settings, live_server: str,
                                                                resident: DemoResident, case: str) -> None:
    """A 结婚证 marrying its holder to herself or registered before she was born, a 出生医学证明 of a
    birth on another day than the holder's ID number says or naming the holder as her own mother, a
    户口簿 that does not list its holder: each would be a genuine, valid license of what is not so."""
    department, body, item = _about_someone_else(resident, case)
    refused = httpx.post(f"{live_server}/api/v1/licenses", headers=client(settings, department,
                                                                          [ClientScope.LICENSES_WRITE]),
                         json=body, timeout=30)
    assert refused.status_code == 400, refused.text
    assert [error["pointer"] for error in refused.json()["errors"]] == [f"#/items/{item}"], refused.text


def test_a_second_diploma_replaces_nothing(settings: Settings, live_server: str, resident: DemoResident) -> None:
    """A 硕士 diploma after a 本科 one, or a second flat: licenses of a type that alone answers its
    proof add up; only types sharing a proof (结婚证 and 离婚证 state a marital status) replace."""
    jy = client(settings, "JY", [ClientScope.LICENSES_WRITE])
    for reference, level, graduated in (("JY-DIP-1", "bachelor", "2012-06-30"), ("JY-DIP-2", "master", "2015-06-30")):
        issued = httpx.post(f"{live_server}/api/v1/licenses", headers=jy, timeout=30, json={
            "license_type": "DIPLOMA", "reference": reference, "holder": {"name": resident.name,
                                                                         "id_number": resident.id_number},
            "items": {"certificate_no": f"1034{reference[-1]}", "full_name": resident.name,
                      "id_number": resident.id_number, "education_level": level, "institution": "浙江师范大学",
                      "major": "数学", "graduation_date": graduated}})
        assert issued.status_code == 201, issued.text
    me = signed_in(live_server, resident)
    held = [h for h in httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json() if h["license_type"] == "DIPLOMA"]
    assert [h["status"] for h in held] == ["valid", "valid"], held


def test_an_amendment_may_not_date_an_event_before_the_holder_was_born(settings: Settings, live_server: str,
                                                                      resident: DemoResident) -> None:
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-AMEND-1950"),
                        timeout=30)
    amended = httpx.post(f"{live_server}/api/v1/licenses/{issued.json()['identifier']}/amendments", headers=mz,
                         json={"changes": {"registration_date": "1950-01-01"}}, timeout=30)
    assert amended.status_code == 400, amended.text
    assert [error["pointer"] for error in amended.json()["errors"]] == ["#/changes/registration_date"], amended.text


def test_a_birth_written_in_utc_is_on_the_holders_birthday_in_beijing(settings: Settings, live_server: str,
                                                                      resident: DemoResident) -> None:
    department, body, _ = _about_someone_else(resident, "born-in-utc")
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=client(settings, department,
                                                                         [ClientScope.LICENSES_WRITE]),
                        json=body, timeout=30)
    assert issued.status_code == 201, issued.text


def test_an_amendment_may_not_marry_the_holder_to_herself(settings: Settings, live_server: str,
                                                          resident: DemoResident) -> None:
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-AMEND-SELF"),
                        timeout=30)
    assert issued.status_code == 201, issued.text
    amended = httpx.post(f"{live_server}/api/v1/licenses/{issued.json()['identifier']}/amendments", headers=mz,
                         json={"changes": {"spouse_id_number": resident.id_number}}, timeout=30)
    assert amended.status_code == 400, amended.text
    assert [error["pointer"] for error in amended.json()["errors"]] == ["#/changes/spouse_id_number"], amended.text


def test_a_license_takes_effect_when_its_face_says_it_does(settings: Settings, live_server: str,
                                                            resident: DemoResident) -> None:
    """A 驾驶证 whose 有效期起始日期 is 2035 and 有效期至 2028 was in force from the day it was
    entered, and a 社保卡 issued in 2010 ran ten years from 2026: what the face states sets when a
    license takes effect unless the department says otherwise, and never contradicts it."""
    ga = client(settings, "GA", [ClientScope.LICENSES_WRITE])
    rs = client(settings, "RS", [ClientScope.LICENSES_WRITE])
    holder = {"name": resident.name, "id_number": resident.id_number}
    driving = {"license_type": "DRIVING_LICENSE", "reference": "GA-DL-FACE-1", "holder": holder,
               "valid_until": "2028-01-01",
               "items": {"license_no": resident.id_number, "full_name": resident.name, "id_number": resident.id_number,
                         "vehicle_classes": ["c1"], "first_issued": "2010-01-01", "valid_from": "2035-01-01",
                         "valid_until": "2028-01-01"}}
    reversed_dates = httpx.post(f"{live_server}/api/v1/licenses", headers=ga, json=driving, timeout=30)
    assert reversed_dates.status_code == 400, reversed_dates.text
    assert [e["pointer"] for e in reversed_dates.json()["errors"]] == ["#/valid_until"], reversed_dates.text
    told_otherwise = httpx.post(f"{live_server}/api/v1/licenses", headers=ga, timeout=30, json={
        **driving, "reference": "GA-DL-FACE-2", "valid_from": "2026-01-01", "valid_until": "2036-01-01",
        "items": {**driving["items"], "valid_until": "2036-01-01"}})
    assert told_otherwise.status_code == 400, told_otherwise.text
    assert [e["pointer"] for e in told_otherwise.json()["errors"]] == ["#/items/valid_from"], told_otherwise.text
    card = social_security_card(resident, "RS-FACE-000001", "2010-03-01")
    del card["valid_from"]
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=rs, json=card, timeout=30)
    assert issued.status_code == 201 and issued.json()["status"] == "expired", issued.text
    [version] = issued.json()["versions"]
    assert version["valid_from"].startswith("2010-02-28T16:00:00") and version["valid_until"].startswith("2020-"), version


@pytest.mark.parametrize("ended", ["consent", "client", "expired", "consent, no license"])
def test_a_use_whose_consent_or_client_ended_while_the_license_was_read_is_not_answered(
        settings: Settings, live_server: str, resident: DemoResident, monkeypatch: pytest.MonkeyPatch,
        ended: str) -> None:
    """The exchange allowed the housing bureau's use of her 结婚证 on her consent; while the library
    was read, she withdrew the consent, it expired, or an operator revoked the bureau's token. No
    usage copy leaves, as none would be given after: 403 or 401, her log saying so after the
    allowed use; nor, when she holds no such license, the answer that she holds none."""
    from sqlalchemy import update

    from exchange.clients import revoke_client
    from exchange.consent import Consent
    from exchange.licenses import use_service

    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    if ended != "consent, no license":
        assert httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident),
                          timeout=30).status_code == 201
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    me = signed_in(live_server, resident)
    consent = httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30}).json()["id"]
    original = use_service.current_license

    def ended_while_read(*args: Any, **kwargs: Any) -> Any:
        if ended.startswith("consent"):
            assert httpx.delete(f"{live_server}/api/v1/me/consents/{consent}", headers=me).status_code == 200
        elif ended == "expired":  # it runs out while the library is read (its lock waited for)
            with standalone_session(settings.database_url) as session:
                session.execute(update(Consent).where(Consent.id == consent)
                                .values(expires_at=datetime.now(timezone.utc) + timedelta(seconds=0.3)))
                session.commit()
            time.sleep(0.6)
        else:
            with standalone_session(settings.database_url) as session:
                revoke_client(session, zj["Authorization"].split("_")[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(use_service, "current_license", ended_while_read)
    used = httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=zj, timeout=30,
                      json={**use_request(resident, "gzf-000123-lic-ended"),
                            **({"license_type": "DIVORCE_CERTIFICATE"} if ended == "consent, no license" else {})})
    monkeypatch.setattr(use_service, "current_license", original)
    status, problem, reason = {"client": (401, "unauthenticated", "unauthenticated"),
                               "expired": (403, "consent-required", "consent-expired")}.get(
                                   ended, (403, "consent-required", "consent-withdrawn"))
    assert (used.status_code, used.json().get("type")) == (status, f"/problems/{problem}"), used.text[:300]
    assert "usage_copy" not in used.json() and "spouse_name" not in used.text
    log = httpx.get(f"{live_server}/api/v1/me/access-log", headers=me).json()["entries"]
    assert [(entry["outcome"], entry["reason"]) for entry in log][:2] == [("denied", reason), ("allowed", None)]


def test_a_department_uses_a_license_with_a_usage_copy(settings: Settings, live_server: str,
                                                        resident: DemoResident) -> None:
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident), timeout=30).json()
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    uses = f"{live_server}/api/v1/exchange/license-uses"
    refused = httpx.post(uses, headers=zj, json=use_request(resident))
    assert refused.status_code == 403 and refused.json()["type"].endswith("/consent-required"), refused.text

    me = signed_in(live_server, resident)
    consent = httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30})
    assert consent.status_code == 201, consent.text
    used = httpx.post(uses, headers=zj, json=use_request(resident, "gzf-000123-lic-2"), timeout=30)
    assert used.status_code == 200, used.text
    body = used.json()
    assert body["answer"]["data"] == {"marital_status": "married", "registration_date": "2026-05-20",
                                      "spouse_name": "李明", "spouse_id_number": SPOUSE_ID}
    assert body["answer"]["source"]["license"] == issued["identifier"]
    copy = verdict(live_server, body["usage_copy"])
    assert copy["status"] == "VALID" and copy["form"] == "usage_copy"
    assert copy["usage"]["department"] == "ZJ" and copy["usage"]["case_number"] == "GZF-2026-000123"
    assert resident.id_number not in body["usage_copy"]
    from exchange.certificates.model import format_datetime_zh, parse_time

    page = httpx.post(f"{live_server}/verify/licenses", data={"license": body["usage_copy"]}, timeout=30).text
    usage_row = page[page.index('id="usage"'):]
    usage_row = usage_row[:usage_row.index("</td>")]
    until = format_datetime_zh(parse_time(copy["usage"]["valid_until"]))  # Beijing time, as the sealed copy prints it
    assert f"有效期至 {until}" in usage_row and "T" not in usage_row.split("有效期至")[1], usage_row
    assert "案件编号 GZF-2026-000123" in usage_row  # the case named as the workbench names it
    replay = httpx.post(uses, headers=zj, json=use_request(resident, "gzf-000123-lic-2"), timeout=30)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json() == body

    counted = {row["license_type"]: row for row in httpx.get(f"{live_server}/api/v1/statistics/licenses").json()}
    assert counted["MARRIAGE_CERTIFICATE"]["used_by_matter"] == {"PUBLIC_RENTAL_HOUSING": 1}  # a replay is no use
    assert counted["MARRIAGE_CERTIFICATE"]["paper_avoided"] == 1 and counted["MARRIAGE_CERTIFICATE"]["held"] >= 1

    jy = client(settings, "JY", [ClientScope.EXCHANGE_REQUEST])
    assert httpx.post(uses, headers=jy, json=use_request(resident, "jy-1")).json()["type"].endswith(
        "/forbidden-by-policy")
    log = httpx.get(f"{live_server}/api/v1/me/access-log", headers=me).json()["entries"]
    assert {(e["consumer_department"], e["proof_name_zh"], e["outcome"]) for e in log} >= {
        ("ZJ", "结婚证", "allowed"), ("ZJ", "结婚证", "denied"), ("JY", "结婚证", "denied")}

    httpx.post(f"{live_server}/api/v1/licenses/{issued['identifier']}/revocation", headers=mz,
               json={"reason": "obtained_by_fraud"}, timeout=30)
    assert verdict(live_server, body["usage_copy"])["status"] == "INVALID"
    # the holder's other valid 结婚证 (the demo data's) is now the current one
    after = httpx.post(uses, headers=zj, json=use_request(resident, "gzf-000123-lic-3"), timeout=30)
    assert after.status_code == 200 and after.json()["answer"]["source"]["license"] != issued["identifier"]

    nobody = {**use_request(resident, "gzf-000123-lic-4"), "license_type": "DIVORCE_CERTIFICATE"}
    gone = httpx.post(uses, headers=zj, json=nobody, timeout=30)
    assert gone.status_code == 404 and gone.json()["type"].endswith("/subject-not-found")


def test_a_use_replayed_after_the_用证清单_narrowed_is_refused(settings: Settings, live_server: str,
                                                               resident: DemoResident) -> None:
    """A replay hands the usage copy's items out again: not once the live 用证清单 no longer
    lets the department receive one of them."""
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    httpx.post(f"{live_server}/api/v1/me/consents", headers=signed_in(live_server, resident), json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30})
    uses = f"{live_server}/api/v1/exchange/license-uses"
    used = httpx.post(uses, headers=zj, json=use_request(resident, "gzf-narrow-1"), timeout=30)
    assert used.status_code == 200 and "spouse_id_number" in used.json()["answer"]["data"], used.status_code
    document = load_catalog(bundled_catalog_path()).to_document()
    marriage_type = next(t for t in document["licenses"] if t["code"] == "MARRIAGE_CERTIFICATE")
    use = next(u for u in marriage_type["uses"] if u["matter"] == "PUBLIC_RENTAL_HOUSING")
    use["items"] = ["marital_status"]
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, catalog_from_document(document), "目录管理员", None, Actor())
    replay = httpx.post(uses, headers=zj, json=use_request(resident, "gzf-narrow-1"), timeout=30)
    assert replay.status_code == 403 and replay.json()["type"].endswith("/forbidden-by-policy"), replay.status_code
    fresh = httpx.post(uses, headers=zj, json=use_request(resident, "gzf-narrow-2"), timeout=30)
    assert fresh.status_code == 200 and list(fresh.json()["answer"]["data"]) == ["marital_status"]


def test_every_refused_use_request_is_logged(settings: Settings, live_server: str, resident: DemoResident) -> None:
    """As for exchange requests: a use request refused at the edge or as it is checked leaves its
    entry, with its request id."""
    uses = f"{live_server}/api/v1/exchange/license-uses"
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    short = {"id_number": resident.id_number[:17], "name": resident.name}
    refused = {"use-type": ({**use_request(resident, "use-type"), "license_type": "NOPE"}, zj),
               "use-number": ({**use_request(resident, "use-number"), "subject": short}, zj),
               "use-days": ({**use_request(resident, "use-days"), "days": 9999}, zj),
               "use-schema": ({**use_request(resident, "use-schema"), "purpose": 7}, zj),
               "use-scope": (use_request(resident, "use-scope"), client(settings, "ZJ", [ClientScope.APPLICATIONS_WRITE]))}
    for body, headers in refused.values():
        assert httpx.post(uses, headers=headers, json=body, timeout=30).status_code in (400, 403)
    with standalone_session(settings.database_url) as session:
        logged = dict(session.execute(select(AccessRecord.request_id, AccessRecord.reason)
                                      .where(AccessRecord.request_id.in_(refused))).all())
    assert logged == {"use-type": "invalid-request", "use-number": "invalid-request", "use-days": "invalid-request",
                      "use-schema": "invalid-request", "use-scope": "insufficient-scope"}


def test_a_license_not_yet_in_force_answers_nothing(settings: Settings, live_server: str,
                                                    resident: DemoResident) -> None:
    """A 结婚证 issued to take effect in 2030 is not the holder's current one: 用证 and the
    exchange's e_license pull keep reading the license in force."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    future = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, timeout=30,
                        json={**marriage(resident, "MZ-2030-000001"), "valid_from": "2030-01-01"})
    assert future.status_code == 201, future.status_code
    httpx.post(f"{live_server}/api/v1/me/consents", headers=signed_in(live_server, resident), json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30})
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    used = httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=zj,
                      json=use_request(resident, "gzf-future-1"), timeout=30)
    assert used.status_code == 200 and used.json()["answer"]["source"]["license"] != future.json()["identifier"]
    assert verdict(live_server, used.json()["usage_copy"])["status"] == "VALID"

    # a correction before it takes effect does not put it in force early
    amended = httpx.post(f"{live_server}/api/v1/licenses/{future.json()['identifier']}/amendments", headers=mz,
                         json={"changes": {"registration_authority": "金华市金东区民政局"}}, timeout=30)
    assert amended.status_code == 201, amended.text
    [current] = [v for v in amended.json()["versions"] if v["identifier"] == amended.json()["identifier"]]
    assert datetime.fromisoformat(current["valid_from"]) == datetime(2030, 1, 1, tzinfo=BEIJING), current
    assert verdict(live_server, httpx.get(f"{live_server}/api/v1/me/licenses/{amended.json()['identifier']}/credential",
                                          headers=signed_in(live_server, resident)).text)["status"] != "VALID"


def valid_until(license: dict) -> datetime | None:
    [current] = [v for v in license["versions"] if v["identifier"] == license["identifier"]]
    return current["valid_until"] and datetime.fromisoformat(current["valid_until"])


def social_security_card(person: DemoResident, reference: str, valid_from: str) -> dict:
    return {"license_type": "SOCIAL_SECURITY_CARD", "reference": reference, "valid_from": valid_from,
            "holder": {"name": person.name, "id_number": person.id_number},
            "items": {"card_no": f"G{reference[-6:]}", "full_name": person.name, "id_number": person.id_number,
                      "issued_at": valid_from}}


@pytest.mark.parametrize(("license", "pointer"), [
    (lambda person: {**marriage(person, "MZ-BOUNDS-000001"), "valid_from": "0001-01-01"}, "#/valid_from"),
    (lambda person: social_security_card(person, "RS-BOUNDS-000002", "9990-01-01"), "#/valid_from"),
    (lambda person: {**marriage(person, "MZ-BOUNDS-000003"), "valid_from": "1899-12-31"}, "#/valid_from"),
    (lambda person: (lambda asked: {**asked, "items": {**asked["items"], "registration_date": "0001-01-01"}})(
        marriage(person, "MZ-BOUNDS-000004")), "#/items/registration_date"),
])
def test_a_license_dated_outside_any_calendar_a_department_keeps_is_refused(
        settings: Settings, live_server: str, resident: DemoResident, license: Any, pointer: str) -> None:
    """A typo'd year (0001, 9990) is named as the field at fault and issues nothing: no 500, no
    license dated before 1900 or ending past 9999."""
    from sqlalchemy import func

    from exchange.licenses.records import LicenseRecord

    def stored() -> int:
        with standalone_session(settings.database_url) as session:
            return session.scalar(select(func.count()).select_from(LicenseRecord))

    department = "RS" if "RS-" in license(resident)["reference"] else "MZ"
    headers, before = client(settings, department, [ClientScope.LICENSES_WRITE]), stored()
    refused = httpx.post(f"{live_server}/api/v1/licenses", headers=headers, json=license(resident), timeout=30)
    assert refused.status_code == 400, refused.text
    assert [error["pointer"] for error in refused.json()["errors"]] == [pointer], refused.text
    assert stored() == before


@pytest.mark.parametrize("reference", ["MZ-{id_number}", "MZ-{id_number_spaced}", " MZ-1", "MZ-\u0000-1",
                                       # a retry with a trailing space or newline must not be another license
                                       "MZ-1 ", "MZ-1\n", "MZ-1\u00a0", "\u200bMZ-1", "MZ\u0001-1", "MZ\u0085-1",
                                       "MZ\u20281"])
def test_a_reference_kept_in_clear_holds_no_id_number_nor_control_characters(
        settings: Settings, live_server: str, resident: DemoResident, reference: str) -> None:
    number = resident.id_number
    written = reference.format(id_number=number, id_number_spaced=f"{number[:6]} {number[6:14]} {number[14:]}")
    refused = httpx.post(f"{live_server}/api/v1/licenses", headers=client(settings, "MZ", [ClientScope.LICENSES_WRITE]),
                         json=marriage(resident, written), timeout=30)
    assert refused.status_code == 400, refused.text
    assert [error["pointer"] for error in refused.json()["errors"]] == ["#/reference"], refused.text


def test_a_license_recording_an_event_still_to_come_is_refused(settings: Settings, live_server: str,
                                                                resident: DemoResident) -> None:
    """A 结婚证 registered in 2062 (a typo for 2026) would be the holder's newest marital record
    for decades, outranking a 离婚证 registered since: a date a license records as having happened
    may not be after the day it is issued or amended (Beijing time); its validity may."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    tomorrow = (datetime.now(BEIJING).date() + timedelta(days=1)).isoformat()
    ahead = marriage(resident, "MZ-AHEAD-000001")
    held = httpx.get(f"{live_server}/api/v1/me/licenses", headers=signed_in(live_server, resident)).json()
    refused = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, timeout=30,
                         json={**ahead, "items": {**ahead["items"], "registration_date": tomorrow}})
    assert refused.status_code == 400, refused.text
    assert [error["pointer"] for error in refused.json()["errors"]] == ["#/items/registration_date"], refused.text
    assert httpx.get(f"{live_server}/api/v1/me/licenses", headers=signed_in(live_server, resident)).json() == held

    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=ahead, timeout=30)
    assert issued.status_code == 201, issued.text
    amended = httpx.post(f"{live_server}/api/v1/licenses/{issued.json()['identifier']}/amendments", headers=mz,
                         json={"changes": {"registration_date": "2062-05-20"}}, timeout=30)
    assert amended.status_code == 400, amended.text
    assert [error["pointer"] for error in amended.json()["errors"]] == ["#/changes/registration_date"], amended.text

    rs = client(settings, "RS", [ClientScope.LICENSES_WRITE])  # a card issued to take effect later may say that day
    later = datetime.now(BEIJING).date() + timedelta(days=30)
    card = social_security_card(resident, "RS-AHEAD-000002", later.isoformat())
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=rs, json=card, timeout=30).status_code == 201
    card = social_security_card(resident, "RS-AHEAD-000003", later.isoformat())
    refused = httpx.post(f"{live_server}/api/v1/licenses", headers=rs, timeout=30, json={
        **card, "items": {**card["items"], "issued_at": (later + timedelta(days=1)).isoformat()}})
    assert refused.status_code == 400 and refused.json()["errors"][0]["pointer"] == "#/items/issued_at", refused.text


def test_a_verifier_checks_the_presentation_was_made_with_its_nonce(settings: Settings, live_server: str,
                                                                     resident: DemoResident) -> None:
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-NONCE-1"),
                        timeout=30).json()
    me = signed_in(live_server, resident)
    shown = httpx.post(live_server + issued["links"]["presentations"], headers=me, timeout=30,
                       json={"items": ["marital_status"], "nonce": "employer-7781"}).json()
    assert shown["nonce"] == "employer-7781"
    verification = f"{live_server}/api/v1/licenses/verification"
    malformed = httpx.post(verification, json={"license": shown["presentation"], "nonce": "no"})
    assert malformed.status_code == 400 and malformed.json()["errors"][0]["pointer"] == "#/nonce"
    other = httpx.post(verification, json={"license": shown["presentation"], "nonce": "bank-0001-aa"}).json()
    assert other["status"] == "INVALID" and checks(other)["nonce"] == ("INVALID", "nonce_mismatch")
    mine = httpx.post(verification, json={"reference": shown["reference"], "nonce": "employer-7781"}).json()
    assert mine["status"] == "VALID" and checks(mine)["nonce"] == ("VALID", "nonce_first_use")


def test_a_license_that_answers_no_proof_is_used_on_the_citizens_consent_to_that_license(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """退休 at the human resources bureau uses the 社保卡, which stands for no proof of the catalog:
    the citizen previews and consents to that license by its code, sees what it releases, and the
    bureau's use is allowed on that consent; without one it is refused."""
    rs = client(settings, "RS", [ClientScope.LICENSES_WRITE, ClientScope.EXCHANGE_REQUEST])
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=rs, timeout=30,
                      json=social_security_card(resident, "RS-2024-000501", "2024-03-01")).status_code == 201
    use = {"request_id": "tx-ssc-1", "caseworker_id": "rs-0007", "case_number": "TX-2026-000501",
           "matter": "RETIREMENT", "license_type": "SOCIAL_SECURITY_CARD", "purpose": "退休审批",
           "subject": {"id_number": resident.id_number, "name": resident.name}}
    refused = httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=rs, json=use, timeout=30)
    assert refused.status_code == 403 and refused.json()["type"].endswith("/consent-required"), refused.text

    me = signed_in(live_server, resident)
    terms = {"matter": "RETIREMENT", "proofs": ["SOCIAL_SECURITY_CARD"], "department": "RS", "days": 30}
    preview = httpx.post(f"{live_server}/api/v1/me/consents/preview", headers=me, json=terms)
    assert preview.status_code == 200, preview.text
    [shown] = preview.json()["proofs"]
    assert shown["proof_name_zh"] == "社会保障卡" and shown["items_zh"] == ["社会保障卡卡号"], shown
    assert shown["source_department_name_zh"] == "金华市人力资源和社会保障局"
    granted = httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json=terms)
    assert granted.status_code == 201, granted.text
    assert granted.json()["proof_names_zh"] == ["社会保障卡"]
    used = httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=rs, timeout=30,
                      json={**use, "request_id": "tx-ssc-2", "consent_id": granted.json()["id"]})
    assert used.status_code == 200, used.text
    assert used.json()["answer"]["data"]["card_no"] == "G000501"
    page = httpx.get(f"{live_server}/portal/consents/new", params={"matter": "RETIREMENT", "department": "RS"},
                     cookies={"mz_identity": me["Authorization"].split()[1]})
    assert page.status_code == 200 and "社会保障卡" in page.text and "社会保障卡卡号" in page.text


def test_an_amendment_keeps_the_validity_and_an_expired_license_is_not_amended(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """A 社保卡 is valid 10 years from its Beijing date; an amendment changes items, not how long
    the license lasts; and a license past its validity is issued anew, not amended back to life."""
    rs = client(settings, "RS", [ClientScope.LICENSES_WRITE])
    licenses = f"{live_server}/api/v1/licenses"
    current = httpx.post(licenses, headers=rs, json=social_security_card(resident, "RS-2020-000301", "2020-03-01"),
                         timeout=30)
    assert current.status_code == 201, current.status_code
    until = valid_until(current.json())
    assert until == datetime(2030, 3, 1, tzinfo=BEIJING), until
    amended = httpx.post(f"{licenses}/{current.json()['identifier']}/amendments", headers=rs,
                         json={"changes": {"card_no": "G000302"}}, timeout=30)
    assert amended.status_code == 201 and valid_until(amended.json()) == until

    expired = httpx.post(licenses, headers=rs, json=social_security_card(resident, "RS-2010-000303", "2010-03-01"),
                         timeout=30)
    assert expired.status_code == 201 and valid_until(expired.json()) == datetime(2020, 3, 1, tzinfo=BEIJING)
    renewed = httpx.post(f"{licenses}/{expired.json()['identifier']}/amendments", headers=rs,
                         json={"changes": {"card_no": "G000304"}}, timeout=30)
    assert renewed.status_code == 409, renewed.status_code


def test_the_wallet_says_expired_and_not_yet_valid_and_offers_no_亮证(settings: Settings, live_server: str,
                                                                   resident: DemoResident) -> None:
    """我的证照 tells the holder which license is in force: an expired 社保卡 and one taking effect
    in 2030 are 已过期 and 尚未生效, without a 亮证 button, and showing them is refused."""
    rs = client(settings, "RS", [ClientScope.LICENSES_WRITE])
    issued = {}
    for reference, start, state in (("RS-2010-000401", "2010-03-01", "expired"),
                                    ("RS-2030-000402", "2030-03-01", "not_yet_valid")):
        response = httpx.post(f"{live_server}/api/v1/licenses", headers=rs, timeout=30,
                              json=social_security_card(resident, reference, start))
        assert response.status_code == 201
        issued[response.json()["identifier"]] = state
    me = signed_in(live_server, resident)
    held = {held["identifier"]: held["status"] for held in
            httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()}
    assert {identifier: held[identifier] for identifier in issued} == issued
    for identifier in issued:
        shown = httpx.post(f"{live_server}/api/v1/me/licenses/{identifier}/presentations", headers=me,
                           json={"items": ["card_no"]}, timeout=30)
        assert shown.status_code == 409, shown.status_code
    wallet = httpx.get(f"{live_server}/portal/licenses", cookies={"mz_identity": me["Authorization"][7:]}).text
    for identifier, label in zip(issued, ("已过期", "尚未生效")):
        section = wallet.split(f'data-identifier="{identifier}"', 1)[1].split("</section>", 1)[0]
        assert label in section and "<button" not in section and 'type="checkbox"' not in section


@pytest.mark.parametrize("item, value", [("id_number", "330703199006228351"), ("full_name", "李四")])
def test_a_license_names_its_holder_and_no_one_else(settings: Settings, live_server: str, resident: DemoResident,
                                                   item: str, value: str) -> None:
    """A sealed 结婚证 held by one person whose items name another would verify VALID against the
    holder's ID number while stating someone else's: refused at issue, and an amendment does
    not change whom the license names."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    licenses = f"{live_server}/api/v1/licenses"
    other = marriage(resident, f"MZ-2026-other-{item}")
    other["items"][item] = value if value != resident.id_number else SPOUSE_ID
    refused = httpx.post(licenses, headers=mz, json=other, timeout=30)
    assert refused.status_code == 400 and refused.json()["errors"][0]["pointer"] == f"#/items/{item}", refused.text
    issued = httpx.post(licenses, headers=mz, json=marriage(resident, f"MZ-2026-own-{item}"), timeout=30)
    assert issued.status_code == 201
    amended = httpx.post(f"{licenses}/{issued.json()['identifier']}/amendments", headers=mz, timeout=30,
                         json={"changes": {item: other["items"][item]}})
    assert amended.status_code == 400 and amended.json()["errors"][0]["pointer"] == f"#/changes/{item}"


@pytest.mark.parametrize("change", ["revocation", "amendment"])
def test_a_use_takes_the_license_as_it_stands_when_it_is_revoked_or_amended_meanwhile(
        settings: Settings, live_server: str, resident: DemoResident, monkeypatch: pytest.MonkeyPatch,
        change: str) -> None:
    """The issuing department revokes or amends the license right after the use has looked it up:
    the use answers from the license as it now stands, and no usage copy of the old version is
    made (a copy born revoked, stale items handed out as current)."""
    from api.license_services import library
    from api.runtime import runtime
    from exchange.licenses import use_service
    from exchange.licenses.records import LicenseUsage, LicenseVersionRecord
    from exchange.licenses.service import amend_license, revoke_license
    from exchange.unit_of_work import UnitOfWork

    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-RACE-1"),
                        timeout=30).json()
    httpx.post(f"{live_server}/api/v1/me/consents", headers=signed_in(live_server, resident), json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30})
    looked_up = use_service.current_license
    changed: list[str] = []

    def then_changed(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = looked_up(*args, **kwargs)
        if not changed:
            lib = library()
            with UnitOfWork(runtime().sessions).step("meanwhile") as session:
                if change == "revocation":
                    changed.append(revoke_license(session, lib, "MZ", issued["identifier"], "obtained_by_fraud",
                                                  OFFICER)
                                   .identifier)
                else:
                    changed.append(amend_license(session, lib, "MZ", issued["identifier"],
                                                 {"spouse_name": "李明明"}, OFFICER).identifier)
        return found

    monkeypatch.setattr(use_service, "current_license", then_changed)
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    used = httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=zj,
                      json=use_request(resident, "gzf-race-1"), timeout=30)
    assert changed and used.status_code == 200, used.text
    answer = used.json()["answer"]
    if change == "revocation":  # the holder's other 结婚证, from the demo data
        assert answer["source"]["license"] != issued["identifier"]
    else:
        assert answer["source"]["license"] == changed[0] and answer["data"]["spouse_name"] == "李明明"
    assert verdict(live_server, used.json()["usage_copy"])["status"] == "VALID"
    with standalone_session(settings.database_url) as session:
        old = session.query(LicenseVersionRecord).filter_by(identifier=issued["identifier"]).one()
        assert session.query(LicenseUsage).filter_by(version_id=old.id).count() == 0


def test_a_use_that_ran_past_its_reservation_does_not_overwrite_the_retry_that_took_it_over(
        settings: Settings, live_server: str, resident: DemoResident, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first attempt of a 用证 stalls after its lookup until its reservation is stale; the
    department's retry takes the request id over and is answered. The first attempt, when it
    wakes, is refused as a conflict: it records no second use, and the request id keeps the
    retry's answer."""
    from datetime import timedelta

    from exchange.answer_store import STALE_AFTER, AnsweredRequest
    from exchange.licenses import use_service
    from exchange.licenses.records import LicenseUsage

    httpx.post(f"{live_server}/api/v1/me/consents", headers=signed_in(live_server, resident), json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30})
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    uses, body = f"{live_server}/api/v1/exchange/license-uses", use_request(resident, "gzf-slow-1")
    looked_up = use_service.current_license
    retried: list[httpx.Response] = []

    def stalled_past_its_reservation(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not retried:
            retried.append(httpx.Response(0))
            with standalone_session(settings.database_url) as session:  # as if the lookup took 2 minutes more
                reservation = session.query(AnsweredRequest).filter_by(request_id="gzf-slow-1").one()
                reservation.reserved_at -= STALE_AFTER + timedelta(seconds=1)
                session.commit()
            retried[0] = httpx.post(uses, headers=zj, json=body, timeout=30)
        return looked_up(*args, **kwargs)

    monkeypatch.setattr(use_service, "current_license", stalled_past_its_reservation)
    slow = httpx.post(uses, headers=zj, json=body, timeout=60)
    [retry] = retried
    assert retry.status_code == 200, retry.text
    assert slow.status_code == 409 and slow.json()["type"].endswith("/conflict"), slow.status_code
    again = httpx.post(uses, headers=zj, json=body, timeout=30)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == retry.json()
    with standalone_session(settings.database_url) as session:
        assert session.query(LicenseUsage).filter_by(case_number="GZF-2026-000123").count() == 1


def test_an_e_license_proof_is_read_from_the_library_first(settings: Settings, live_server: str) -> None:
    """DISABILITY (mode e_license) comes from the holder's 残疾人证 in the library, with the license
    as provenance; once the license is revoked, from the disabled persons' federation's records."""
    person, card = None, None
    for candidate in sample_residents(settings.sources_dir, 8):
        wallet = httpx.get(f"{live_server}/api/v1/me/licenses", headers=signed_in(live_server, candidate)).json()
        card = next((w for w in wallet if w["license_type"] == "DISABILITY_CARD"), None)
        if card is not None:
            person = candidate
            break
    assert person is not None and card is not None, "a sample resident holds a 残疾人证"
    recorded = {i["name"]: i["value"] for i in card["items"]}
    cl = client(settings, "CL", [ClientScope.LICENSES_WRITE])
    grade = "grade_1" if recorded["disability_grade"] != "grade_1" else "grade_2"
    amended = httpx.post(f"{live_server}/api/v1/licenses/{card['identifier']}/amendments", headers=cl,
                         json={"changes": {"disability_grade": grade}}, timeout=30).json()

    me = signed_in(live_server, person)
    httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["DISABILITY"], "department": "ZJ", "days": 30})
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])

    def pull(request_id: str) -> dict:
        response = httpx.post(f"{live_server}/api/v1/exchange/requests", headers=zj, timeout=30, json={
            "request_id": request_id, "caseworker_id": "zj-0042", "case_number": "GZF-2026-000200",
            "matter": "PUBLIC_RENTAL_HOUSING", "proof": "DISABILITY", "purpose": "公租房优先配租",
            "subject": {"id_number": person.id_number, "name": person.name}})
        assert response.status_code == 200, response.text
        return response.json()["answer"]

    from_library = pull("dis-1")
    assert from_library["data"]["disability_grade"] == grade
    assert from_library["source"]["license"] == {"license": amended["identifier"], "license_type": "DISABILITY_CARD",
                                                 "version": 2}
    httpx.post(f"{live_server}/api/v1/licenses/{amended['identifier']}/revocation", headers=cl,
               json={"reason": "data_changed"}, timeout=30)
    from_source = pull("dis-2")
    assert from_source["data"]["disability_grade"] == recorded["disability_grade"]
    assert "license" not in from_source["source"] and from_source["source"]["department"] == "CL"


def test_concurrent_issues_get_distinct_serials_and_one_license_per_reference(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    from concurrent.futures import ThreadPoolExecutor

    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    references = [f"MZ-2026-1{n:05d}" for n in range(8)] * 2  # each reference sent twice, at once

    def issue(reference: str) -> tuple[int, str]:
        response = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, reference),
                              timeout=60)
        return response.status_code, response.json().get("identifier", response.text)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(issue, references))
    assert {status for status, _ in results} <= {200, 201}, results
    identifiers = {reference: identifier for reference, (_, identifier) in zip(references, results)}
    assert len(set(identifiers.values())) == 8  # one license per reference, whoever came second
    serials = {identifier.split(".")[7] for identifier in identifiers.values()}
    assert len(serials) == 8


@pytest.mark.parametrize("subject", [{"id_number": ""}, {}, {"uscc": ""}])
def test_a_use_request_naming_nothing_usable_is_an_input_error(settings: Settings, live_server: str,
                                                               subject: dict) -> None:
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    for matter, license_type in (("NOPE", "NOPE"), ("PUBLIC_RENTAL_HOUSING", "MARRIAGE_CERTIFICATE")):
        answer = httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=zj, json={
            "request_id": "L8XN", "caseworker_id": "J", "case_number": "C-1", "matter": matter,
            "license_type": license_type, "purpose": "核验", "subject": subject})
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"] == "/problems/invalid-request"


def pdf_verdict(base: str, pdf: bytes) -> dict:
    import base64

    response = httpx.post(f"{base}/api/v1/licenses/verification", timeout=60,
                          json={"pdf_base64": base64.b64encode(pdf).decode("ascii")})
    assert response.status_code == 200, response.text
    return response.json()


def test_license_and_usage_copy_pdfs_are_sealed_and_follow_the_license(
        settings: Settings, live_server: str, resident: DemoResident, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.pdf_tools import nss_db_trusting, run_pdfsig, signed_whole

    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-PDF-1"),
                        timeout=30).json()
    me = signed_in(live_server, resident)
    held = httpx.get(live_server + issued["links"]["pdf"], headers=me, timeout=60)
    assert held.status_code == 200 and held.headers["content-type"] == "application/pdf"
    by_issuer = httpx.get(f"{live_server}/api/v1/licenses/{issued['identifier']}/pdf", headers=mz, timeout=60)
    assert by_issuer.status_code == 200
    ga = client(settings, "GA", [ClientScope.LICENSES_WRITE])
    assert httpx.get(f"{live_server}/api/v1/licenses/{issued['identifier']}/pdf", headers=ga).status_code == 404
    stranger = signed_in(live_server, sample_residents(settings.sources_dir, 2)[1])
    assert httpx.get(live_server + issued["links"]["pdf"], headers=stranger).status_code == 404
    for pdf in (held.content, by_issuer.content):
        result = pdf_verdict(live_server, pdf)
        assert result["status"] == "VALID" and result["pdf"] and result["form"] == "license", result
    root = httpx.get(f"{live_server}/api/v1/trust/root.pem").content
    report = run_pdfsig(held.content, tmp_path, nss_db_trusting(root, tmp_path))
    assert "Signature is Valid" in report and "Certificate is Trusted" in report and "金华市民政局" in report
    assert signed_whole(report)

    httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30})
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    used = httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=zj,
                      json=use_request(resident, "gzf-pdf-1"), timeout=30).json()
    copy_url = f"{live_server}/api/v1/exchange/license-uses/usage-copy.pdf"
    usage = httpx.post(copy_url, headers=zj, json={"usage_copy": used["usage_copy"]}, timeout=60)
    assert usage.status_code == 200 and usage.headers["content-type"] == "application/pdf", usage.text
    result = pdf_verdict(live_server, usage.content)
    assert result["status"] == "VALID" and result["form"] == "usage_copy" and result["usage"]["department"] == "ZJ"
    other = client(settings, "BDC", [ClientScope.EXCHANGE_REQUEST])
    refused = httpx.post(copy_url, headers=other, json={"usage_copy": used["usage_copy"]})
    assert refused.status_code == 400 and refused.json()["errors"][0]["pointer"] == "#/usage_copy"
    forged = httpx.post(copy_url, headers=zj, json={"usage_copy": used["usage_copy"][:-4] + "AAAA"})
    assert forged.status_code == 400

    amended = httpx.post(f"{live_server}/api/v1/licenses/{issued['identifier']}/amendments", headers=mz,
                         json={"changes": {"spouse_name": "李明明"}}, timeout=30).json()
    old = pdf_verdict(live_server, held.content)
    assert old["status"] == "INVALID" and old["revocation_reason"] == "superseded"
    current = httpx.get(live_server + amended["links"]["pdf"], headers=me, timeout=60).content
    assert pdf_verdict(live_server, current)["status"] == "VALID"
    httpx.post(f"{live_server}/api/v1/licenses/{issued['identifier']}/revocation", headers=mz,
               json={"reason": "issued_in_error"}, timeout=30)
    for pdf, reason in ((current, "issued_in_error"), (usage.content, "superseded")):  # the copy was of version 1
        result = pdf_verdict(live_server, pdf)
        assert result["status"] == "INVALID" and result["revocation_reason"] == reason
    not_pdf = pdf_verdict(live_server, b"%PDF-1.4 nothing")
    assert not_pdf["status"] == "INVALID"


def test_a_marriage_certificate_a_later_divorce_superseded_is_not_used(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """Civil affairs registered the marriage, then the divorce: both licenses stay in force, but
    the 结婚证 no longer states the holder's marital status. A 用证 of it would seal 已婚 for a
    divorced applicant; it is refused, as the 婚姻状况 proof answers 离婚 from the newer license."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-BEFORE-1"),
                      timeout=30).status_code == 201
    me = signed_in(live_server, resident)
    assert httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30}
    ).status_code == 201
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    uses = f"{live_server}/api/v1/exchange/license-uses"
    married = httpx.post(uses, headers=zj, json=use_request(resident, "gzf-before-divorce"), timeout=30)
    assert married.status_code == 200 and married.json()["answer"]["data"]["marital_status"] == "married"

    divorce = marriage(resident, "MZ-DIVORCE-1")
    divorce["license_type"] = "DIVORCE_CERTIFICATE"
    divorce["items"] = {**divorce["items"], "certificate_no": "L330702-2026-000456", "marital_status": "divorced",
                        "registration_date": "2026-09-01"}
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=divorce, timeout=30).status_code == 201
    refused = httpx.post(uses, headers=zj, json=use_request(resident, "gzf-after-divorce"), timeout=30)
    assert refused.status_code == 404, refused.text
    assert "离婚证" in refused.json()["detail"] or "DIVORCE_CERTIFICATE" in refused.json()["detail"]


def _marital_status_used(settings: Settings, live_server: str, resident: DemoResident,
                         request_id: str) -> httpx.Response:
    """The holder consents to 婚姻状况 for 公租房, then the housing bureau asks for its license."""
    me = signed_in(live_server, resident)
    assert httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30}
    ).status_code == 201
    zj = client(settings, "ZJ", [ClientScope.EXCHANGE_REQUEST])
    return httpx.post(f"{live_server}/api/v1/exchange/license-uses", headers=zj,
                      json=use_request(resident, request_id), timeout=30)


def test_the_spouse_a_used_marriage_certificate_names_sees_the_use(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """用证 of a 结婚证 hands the housing bureau the spouse's name and ID number too: the spouse's own
    谁用了我的数据 lists that use, on the holder's authorisation, not only the holder's."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-NAMED-1"),
                      timeout=30).status_code == 201
    used = _marital_status_used(settings, live_server, resident, "gzf-named-spouse")
    assert used.status_code == 200 and used.json()["answer"]["data"]["spouse_id_number"] == SPOUSE_ID, used.text
    spouse = httpx.post(f"{live_server}/dev-idp/token", json={"name": "李明", "id_number": SPOUSE_ID}).json()
    log = httpx.get(f"{live_server}/api/v1/me/access-log", headers={"Authorization": f"Bearer {spouse['assertion']}"})
    assert log.status_code == 200, log.text
    [entry] = log.json()["entries"]
    assert (entry["consumer_department"], entry["proof"], entry["outcome"]) == ("ZJ", "MARRIAGE_CERTIFICATE", "allowed")
    assert entry["consent_id"] is None and "载有您的信息" in entry["basis_zh"], entry
    holder = httpx.get(f"{live_server}/api/v1/me/access-log", headers=signed_in(live_server, resident)).json()
    [own] = [e for e in holder["entries"] if e["proof"] == "MARRIAGE_CERTIFICATE"]
    assert own["consent_id"] is not None and own["basis_zh"] == "本人网上授权", own


def test_a_marriage_entered_after_the_divorce_does_not_undo_it(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """Civil affairs enters the 离婚证 first and backfills the older 结婚证 from its register later:
    the newest is the one registered last, so the 结婚证 is not used for 婚姻状况."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    divorce = marriage(resident, "MZ-DIVORCE-2")
    divorce["license_type"] = "DIVORCE_CERTIFICATE"
    divorce["items"] = {**divorce["items"], "certificate_no": "L330702-2026-000789", "marital_status": "divorced",
                        "registration_date": "2026-09-01"}
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=divorce, timeout=30).status_code == 201
    assert httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-BACKFILL-1"),
                      timeout=30).status_code == 201  # registered 2026-05-20, entered now
    refused = _marital_status_used(settings, live_server, resident, "gzf-backfilled")
    assert refused.status_code == 404 and "DIVORCE_CERTIFICATE" in refused.json()["detail"], refused.text


def test_a_marriage_certificate_a_later_divorce_replaced_is_neither_shown_nor_sealed(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """After the 离婚证, the 结婚证 no longer states the holder's 婚姻状况: the wallet says it was
    replaced, and neither a 亮证 nor a sealed page of it says 已婚 as 真实、有效 any more (用证
    already refused it). The 离婚证 is shown as ever."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    wed = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-WED-1"), timeout=30)
    assert wed.status_code == 201, wed.text
    divorce = marriage(resident, "MZ-DIVORCE-3")
    divorce["license_type"] = "DIVORCE_CERTIFICATE"
    divorce["items"] = {**divorce["items"], "certificate_no": "L330702-2026-000321", "marital_status": "divorced",
                        "registration_date": "2026-09-01"}
    divorced = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=divorce, timeout=30)
    assert divorced.status_code == 201, divorced.text
    me = signed_in(live_server, resident)
    held = {held["identifier"]: held for held in httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()}
    assert held[wed.json()["identifier"]]["status"] == "replaced"
    assert held[divorced.json()["identifier"]]["status"] == "valid"
    shown = httpx.post(live_server + wed.json()["links"]["presentations"], headers=me,
                       json={"items": ["marital_status"]}, timeout=30)
    assert shown.status_code == 409 and "离婚证" in shown.json()["detail"], shown.text
    for form in ("pdf", "credential"):  # each would verify as a genuine 已婚
        assert httpx.get(live_server + held[wed.json()["identifier"]]["links"][form], headers=me,
                         timeout=30).status_code == 409, form
    assert httpx.post(live_server + divorced.json()["links"]["presentations"], headers=me,
                      json={"items": ["marital_status"]}, timeout=30).status_code == 201
    portal = httpx.Client(base_url=live_server, cookies={"mz_identity": me["Authorization"].split()[1]}, timeout=30)
    wallet = portal.get("/portal/licenses")
    assert wallet.status_code == 200, wallet.text[:300]
    section = wallet.text[wallet.text.index(f'data-identifier="{wed.json()["identifier"]}"'):]
    section = section[:section.index("</section>")]
    assert "已被取代" in section and "离婚证" in section and "/pdf" not in section and 'name="items"' not in section


def test_a_presentation_of_one_item_does_not_give_away_the_holders_id_number(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """A 亮证 of 婚姻状况 alone: the masked number shows all but the birth date, so a digest of
    the number beside it would give the whole number to anyone trying every day of a century.
    The verifier (and the verification API's answer) gets neither the number nor a digest; asked
    to check a number, it says the holder must show that item."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident, "MZ-PRIVATE-1"),
                        timeout=30).json()
    me = signed_in(live_server, resident)
    shown = httpx.post(live_server + issued["links"]["presentations"], headers=me, json={"items": ["marital_status"]},
                       timeout=30).json()["presentation"]
    issuer_jwt = shown.split("~")[0]
    holder = json.loads(b64url_decode(issuer_jwt.split(".")[1]))["holder"]
    checked = httpx.post(f"{live_server}/api/v1/licenses/verification",
                         json={"license": shown, "id_number": resident.id_number}, timeout=30).json()
    assert checked["status"] == "VALID", checked
    assert checks(checked)["holder_binding"] == ("SKIPPED", "holder_not_bound")
    answered = json.dumps(checked, ensure_ascii=False)
    assert resident.id_number not in answered and "id_binding" not in answered and "id_binding" not in holder

    assert holder["id_masked"] == "*" * 14 + resident.id_number[-4:]  # no region code: with a date it adds up

    with_number = httpx.post(live_server + issued["links"]["presentations"], headers=me,
                             json={"items": ["marital_status", "id_number"]}, timeout=30).json()["presentation"]
    matched = httpx.post(f"{live_server}/api/v1/licenses/verification",
                         json={"license": with_number, "id_number": resident.id_number}, timeout=30).json()
    assert checks(matched)["holder_binding"] == ("VALID", "holder_matches")  # the holder chose to show it


def test_of_two_marriage_certificates_the_one_registered_last_is_used(
        settings: Settings, live_server: str, resident: DemoResident) -> None:
    """A widowed, remarried holder: civil affairs issues the current 结婚证, then backfills the
    first marriage's from its register. 用证 answers from the current marriage, not from the
    license entered last, which names the former spouse."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    current = marriage(resident, "MZ-REMARRIED-1")
    current["items"] = {**current["items"], "registration_date": "2026-11-01"}
    first = marriage(resident, "MZ-FIRST-1")
    first["items"] = {**first["items"], "certificate_no": "J330702-2001-000042", "registration_date": "2001-03-01",
                      "spouse_name": "钱芳", "spouse_id_number": "330702197501010020"}
    for license in (current, first):
        assert httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=license, timeout=30).status_code == 201
    used = _marital_status_used(settings, live_server, resident, "gzf-remarried")
    assert used.status_code == 200, used.text
    assert used.json()["answer"]["data"]["registration_date"] == "2026-11-01", used.json()["answer"]["data"]


def test_a_license_too_long_for_its_page_gets_no_pdf(settings: Settings, live_server: str,
                                                     resident: DemoResident) -> None:
    """Past the page's foot the seal, the QR code and the note would be lost while the signature
    still verifies: the PDF is refused as not printable, the credential stays the holder's."""
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    long = marriage(resident, "MZ-LONG-1")
    long["items"] = {**long["items"], "registration_authority": "金华市婺城区民政局" * 130}
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=long, timeout=30)
    assert issued.status_code == 201, issued.text
    me = signed_in(live_server, resident)
    pdf = httpx.get(live_server + issued.json()["links"]["pdf"], headers=me, timeout=30)
    assert pdf.status_code == 422 and pdf.json()["type"] == "/problems/not-printable", pdf.text[:300]
    assert "过长" in pdf.json()["detail_zh"]
    assert httpx.get(live_server + issued.json()["links"]["credential"], headers=me).status_code == 200
