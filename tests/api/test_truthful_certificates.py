"""A sealed certificate states only what is true: a proof whose title asserts a fact (无房证明,
无犯罪记录证明, 未租住公有住房证明 ...) is issued only when the source's record establishes it.
Otherwise the citizen reads the catalog's plain-Chinese explanation, gets nothing sealed, and is
offered the department's neutral document where there is one. Every such proof of the bundled
catalog is tried with a demo resident for whom the fact holds and one for whom it does not."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.settings import Settings
from catalog.city_time import BEIJING
from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import Proof
from core.base64url import b64url_decode
from exchange.issuance import issuable_proofs
from exchange.sources.records import department_database, read_only_engine, records_table

CATALOG = load_catalog(bundled_catalog_path())
ASSERTING = [proof for proof in issuable_proofs(CATALOG) if proof.asserts is not None]


def resident_where(settings: Settings, proof: Proof, fact_holds: bool) -> tuple[str, str]:
    """(ID number, name) of a demo resident whose record of `proof` does (not) establish its fact."""
    engine = read_only_engine(department_database(settings.sources_dir, proof.department))
    try:
        with engine.connect() as connection:
            for row in connection.execute(select(records_table).where(records_table.c.proof_code == proof.code)):
                assert proof.asserts is not None
                if proof.asserts.holds(json.loads(row.record)) is fact_holds:
                    return row.subject_id, row.subject_name
    finally:
        engine.dispose()
    raise AssertionError(f"no demo resident for whom {proof.code} {'holds' if fact_holds else 'fails'}")


def signed_in(base: str, id_number: str, name: str) -> dict[str, str]:
    response = httpx.post(f"{base}/dev-idp/token", json={"name": name, "id_number": id_number})
    return {"Authorization": f"Bearer {response.json()['assertion']}"}


def request(base: str, headers: dict[str, str], proof: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/me/certificates", headers=headers,
                      json={"proof": proof, "purpose": "申请公租房"}, timeout=30)


def pdf_text(base: str, headers: dict[str, str], certificate: dict[str, Any]) -> str:
    pdf = httpx.get(base + certificate["links"]["pdf"], headers=headers).content
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def test_the_catalog_declares_the_fact_of_every_negative_title() -> None:
    negative_titles = [p.code for p in issuable_proofs(CATALOG) if p.name_zh.startswith(("无", "未", "没有"))]
    assert negative_titles and set(negative_titles) <= {proof.code for proof in ASSERTING}


@pytest.mark.parametrize("proof", ASSERTING, ids=lambda proof: proof.code)
def test_issued_only_when_the_fact_holds(settings: Settings, live_server: str, proof: Proof) -> None:
    assert proof.asserts is not None
    contradicted = signed_in(live_server, *resident_where(settings, proof, fact_holds=False))

    refused = request(live_server, contradicted, proof.code)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "/problems/fact-not-established"
    assert problem["detail_zh"] == proof.asserts.refusal_zh
    assert httpx.get(f"{live_server}/api/v1/me/certificates", headers=contradicted).json() == []

    alternative = CATALOG.proofs.get(proof.asserts.alternative or "")
    if alternative is None:
        assert problem["alternative"] is None
    else:
        assert problem["alternative"] == {"code": alternative.code, "name_zh": alternative.name_zh}
        neutral = request(live_server, contradicted, alternative.code)
        assert neutral.status_code == 201, neutral.text
        assert neutral.json()["proof_name_zh"] == alternative.name_zh
        text = pdf_text(live_server, contradicted, neutral.json())
        assert alternative.name_zh in text.replace(" ", "") and proof.name_zh not in text.replace(" ", "")
        assert "有不动产登记记录" in text.replace(" ", "")

    holding = signed_in(live_server, *resident_where(settings, proof, fact_holds=True))
    issued = request(live_server, holding, proof.code)
    assert issued.status_code == 201, issued.text
    assert issued.json()["proof_name_zh"] == proof.name_zh
    assert "".join(proof.name_zh) in pdf_text(live_server, holding, issued.json()).replace(" ", "")


def _record(settings: Settings, department: str, proof: str, id_number: str | None = None) -> tuple[str, str, dict]:
    """(ID number, name, record) of the demo record of `proof` for `id_number` (or the first one)."""
    with sqlite3.connect(settings.sources_dir / f"{department}.db") as connection:
        query = "SELECT subject_id, subject_name, record FROM records WHERE proof_code = ?"
        row = connection.execute(query + (" AND subject_id = ?" if id_number else " ORDER BY rowid LIMIT 1"),
                                 (proof, id_number) if id_number else (proof,)).fetchone()
    return row[0], row[1], json.loads(row[2])


def _change(settings: Settings, department: str, proof: str, subject_id: str, /, **changes: Any) -> None:
    """Change the department's own record, as its clerks (or a faulty system) would."""
    with sqlite3.connect(settings.sources_dir / f"{department}.db") as connection:
        for rowid, record in connection.execute("SELECT rowid, record FROM records WHERE proof_code = ? AND "
                                                "subject_id = ?", (proof, subject_id)).fetchall():
            connection.execute("UPDATE records SET record = ? WHERE rowid = ?",
                               (json.dumps({**json.loads(record), **changes}, ensure_ascii=False), rowid))


def _refused_without_seal(base: str, headers: dict[str, str], proof: str, *words: str) -> None:
    refused = request(base, headers, proof)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "/problems/fact-not-established" and problem["alternative"] is None, problem
    assert all(word in problem["detail_zh"] for word in words), problem["detail_zh"]
    assert httpx.get(f"{base}/api/v1/me/certificates", headers=headers).json() == []


def test_a_registry_answer_without_a_result_seals_neither_no_housing_nor_no_record(
        settings: Settings, live_server: str) -> None:
    """The registry answered, but its record leaves 是否有不动产登记记录 empty: nothing is known,
    so neither the 无房证明 nor the neutral search result may say "无不动产登记记录", and the
    refusal does not tell the holder property is registered in his name."""
    id_number, name = resident_where(settings, CATALOG.proofs["NO_HOUSING"], fact_holds=True)
    _change(settings, "BDC", "NO_HOUSING", id_number, has_registered_property=None)
    _change(settings, "BDC", "REAL_ESTATE_SEARCH", id_number, has_registered_property=None)
    me = signed_in(live_server, id_number, name)
    for proof in ("NO_HOUSING", "REAL_ESTATE_SEARCH"):
        _refused_without_seal(live_server, me, proof, "未载明", "是否有不动产登记记录")


def test_a_record_that_contradicts_itself_seals_nothing(settings: Settings, live_server: str) -> None:
    """'No property registered' next to 'registered properties: 2' backs no statement."""
    id_number, name = resident_where(settings, CATALOG.proofs["NO_HOUSING"], fact_holds=True)
    _change(settings, "BDC", "NO_HOUSING", id_number, property_count=2)
    _change(settings, "BDC", "REAL_ESTATE_SEARCH", id_number, property_count=2)
    me = signed_in(live_server, id_number, name)
    for proof in ("NO_HOUSING", "REAL_ESTATE_SEARCH"):
        _refused_without_seal(live_server, me, proof, "不一致", "登记不动产数量")


def test_the_statement_names_the_area_and_the_time_the_search_covered(settings: Settings, live_server: str) -> None:
    """A search of one district is stated as that district's, not the city's; and "截至" is the
    time the registry searched, which the record states, not the time the certificate is made."""
    id_number, name = resident_where(settings, CATALOG.proofs["NO_HOUSING"], fact_holds=True)
    _change(settings, "BDC", "NO_HOUSING", id_number, search_scope_region="330702")
    searched = datetime.fromisoformat(_record(settings, "BDC", "NO_HOUSING", id_number)[2]["searched_at"])
    me = signed_in(live_server, id_number, name)
    issued = request(live_server, me, "NO_HOUSING")
    assert issued.status_code == 201, issued.text
    text = pdf_text(live_server, me, issued.json()).replace(" ", "")
    assert "在金华市婺城区不动产登记信息系统中无不动产登记记录" in text, text
    local = searched.astimezone(BEIJING)
    assert f"截至{local.year}年{local.month}月{local.day}日{local:%H:%M}" in text, text


def test_a_no_criminal_record_is_stated_up_to_the_end_of_the_period_searched(
        settings: Settings, live_server: str) -> None:
    id_number, name = resident_where(settings, CATALOG.proofs["NO_CRIMINAL_RECORD"], fact_holds=True)
    period_end = date.fromisoformat(_record(settings, "GA", "NO_CRIMINAL_RECORD", id_number)[2]["period_end"])
    me = signed_in(live_server, id_number, name)
    issued = request(live_server, me, "NO_CRIMINAL_RECORD")
    assert issued.status_code == 201, issued.text
    text = pdf_text(live_server, me, issued.json()).replace(" ", "")
    assert f"截至{period_end.year}年{period_end.month}月{period_end.day}日23:59" in text, text


def test_a_disability_certificate_does_not_print_the_id_number_inside_the_card_number(
        settings: Settings, live_server: str) -> None:
    """A 残疾人证号 is the holder's ID number and two digits more: printed whole, it would undo the mask."""
    id_number, name, record = _record(settings, "CL", "DISABILITY")
    assert record["certificate_no"].startswith(id_number)
    me = signed_in(live_server, id_number, name)
    issued = request(live_server, me, "DISABILITY")
    assert issued.status_code == 201, issued.text
    credential = httpx.get(live_server + issued.json()["links"]["jws"], headers=me).text
    claims = json.loads(b64url_decode(credential.split(".")[1]))
    assert id_number not in pdf_text(live_server, me, issued.json()).replace(" ", "")
    assert id_number not in json.dumps(claims, ensure_ascii=False)
    assert id_number[:6] + "********" + id_number[-4:] in json.dumps(claims, ensure_ascii=False)


def test_a_certificate_read_from_a_license_says_so_and_ends_with_the_license_version(
        settings: Settings, live_server: str) -> None:
    """A 居民户口簿 certificate is what the license library held when it was issued: its page must
    not read as the booklet itself, nor as 长期有效, since a change of the booklet revokes it. Once
    the booklet is revoked it is read from the police's register, and says it states the register
    as at its issue."""
    from exchange.clients import ClientScope
    from tests.api.test_licenses_api import client

    id_number, name, _ = _record(settings, "GA", "HOUSEHOLD_BOOK")
    me = signed_in(live_server, id_number, name)
    [booklet] = [held for held in httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()
                 if held["license_type"] == "HUKOU_BOOKLET"]
    portal = httpx.Client(base_url=live_server, cookies={"mz_identity": me["Authorization"].removeprefix("Bearer ")})
    token = re.search(r'name="csrf_token" value="([^"]+)"', portal.get("/portal").text)
    assert token is not None
    preview = portal.post("/portal/certificates", data={"csrf_token": token.group(1), "proof": "HOUSEHOLD_BOOK",
                                                        "purpose": "申请公租房"}).text
    assert "长期有效" not in preview and "证照变更或注销时随之作废" in preview, preview
    assert "没有该电子证照时，据登记机关的记录出具" in preview, preview  # both are true before it is known which
    from_license = request(live_server, me, "HOUSEHOLD_BOOK")
    assert from_license.status_code == 201 and from_license.json()["valid_until"] is None, from_license.text
    page = " ".join(pdf_text(live_server, me, from_license.json()).split())
    assert "长期有效" not in page, page
    assert "（电子证照信息）" in page and "至所据电子证照变更或注销时止" in page, page

    police = client(settings, "GA", [ClientScope.LICENSES_WRITE.value])
    revoked = httpx.post(f"{live_server}/api/v1/licenses/{booklet['identifier']}/revocation", headers=police,
                         json={"reason": "issued_in_error"}, timeout=30)
    assert revoked.status_code == 200, revoked.text
    from_register = request(live_server, me, "HOUSEHOLD_BOOK")
    assert from_register.status_code == 201, from_register.text
    page = " ".join(pdf_text(live_server, me, from_register.json()).split())
    assert "电子证照" not in page and "起长期有效（所载为出具时的登记信息）" in page, page


def test_a_card_ending_soon_ends_the_certificate_and_one_ended_backs_none(
        settings: Settings, live_server: str) -> None:
    """The 残疾证明 is read from the holder's 残疾人证 in the license library; the federation
    corrects the card to end in three days: the certificate ends with that day (Beijing time), not
    "长期有效". A card's 有效期至 must be the license's own end, and a record whose end has passed
    backs no certificate."""
    from exchange.certificates.record_backing import unbacked
    from exchange.clients import ClientScope
    from tests.api.test_licenses_api import client

    id_number, name, record = _record(settings, "CL", "DISABILITY")
    me = signed_in(live_server, id_number, name)
    [card] = [held for held in httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()
              if held["license_type"] == "DISABILITY_CARD"]
    federation = client(settings, "CL", [ClientScope.LICENSES_WRITE.value])
    amendments = f"{live_server}/api/v1/licenses/{card['identifier']}/amendments"
    soon = datetime.now(BEIJING).date() + timedelta(days=3)
    disagreeing = httpx.post(amendments, headers=federation, json={"changes": {"valid_until": soon.isoformat()}},
                             timeout=30)  # the face says three days, the license still runs for years
    assert disagreeing.status_code == 400 and disagreeing.json()["errors"][0]["pointer"] == "#/changes/valid_until", \
        disagreeing.text
    amended = httpx.post(amendments, headers=federation, json={"changes": {"valid_until": soon.isoformat()},
                                                               "valid_until": soon.isoformat()}, timeout=30)
    assert amended.status_code == 201, amended.text

    issued = request(live_server, me, "DISABILITY")
    assert issued.status_code == 201, issued.text
    end = datetime.combine(soon + timedelta(days=1), datetime.min.time(), BEIJING) - timedelta(seconds=1)
    assert datetime.fromisoformat(issued.json()["valid_until"].replace("Z", "+00:00")) == end

    yesterday = (datetime.now(BEIJING).date() - timedelta(days=1)).isoformat()
    reason = unbacked(CATALOG.proofs["DISABILITY"], {**record, "valid_until": yesterday}, name, datetime.now(BEIJING))
    assert reason is not None and "有效期已于" in reason and "届满" in reason, reason

    # many departments write the last day of the calendar for 长期有效: a card ending then backs a
    # certificate that ends then, not a server error
    lasting = httpx.post(f"{live_server}/api/v1/licenses/{amended.json()['identifier']}/amendments",
                         headers=federation, json={"changes": {"valid_until": "9999-12-31"}, "valid_until": "9999-12-31"},
                         timeout=30)
    assert lasting.status_code == 201, lasting.text
    issued = request(live_server, me, "DISABILITY")
    assert issued.status_code == 201, issued.text
    assert issued.json()["valid_until"].startswith("9999-12-31T15:59:59"), issued.json()  # 23:59:59 Beijing


def test_a_record_naming_another_person_seals_nothing(settings: Settings, live_server: str) -> None:
    id_number, name = resident_where(settings, CATALOG.proofs["NO_HOUSING"], fact_holds=True)
    _change(settings, "BDC", "NO_HOUSING", id_number, full_name="王大明" if name != "王大明" else "李小红")
    _refused_without_seal(live_server, signed_in(live_server, id_number, name), "NO_HOUSING", "姓名")


@pytest.mark.parametrize("value", ["JHBDC\u202e2026", "JHBDC\n2026", "JHBDC\u200b2026"], ids=["rtl", "newline", "zwsp"])
def test_invisible_characters_in_a_record_seal_nothing(settings: Settings, live_server: str, value: str) -> None:
    """A right-to-left override, a line break or a zero-width space would print as a box, a space
    or nothing, while the credential keeps it: the page and the signed data would read differently."""
    id_number, name = resident_where(settings, CATALOG.proofs["NO_HOUSING"], fact_holds=True)
    _change(settings, "BDC", "NO_HOUSING", id_number, search_no=value)
    me = signed_in(live_server, id_number, name)
    refused = request(live_server, me, "NO_HOUSING")
    assert refused.status_code == 422 and refused.json()["type"] == "/problems/not-printable", refused.text
    assert httpx.get(f"{live_server}/api/v1/me/certificates", headers=me).json() == []


def test_a_record_too_long_for_the_page_seals_nothing(settings: Settings, live_server: str) -> None:
    """Past the page's foot the validity, the purpose, the seal and the QR code would be lost
    while the credential keeps them: no such certificate is sealed."""
    id_number, name = resident_where(settings, CATALOG.proofs["NO_HOUSING"], fact_holds=True)
    _change(settings, "BDC", "NO_HOUSING", id_number, search_no="JHBDC" + "0" * 1200)
    me = signed_in(live_server, id_number, name)
    refused = request(live_server, me, "NO_HOUSING")
    assert refused.status_code == 422 and refused.json()["type"] == "/problems/not-printable", refused.text
    assert "过长" in refused.json()["detail_zh"]
    assert httpx.get(f"{live_server}/api/v1/me/certificates", headers=me).json() == []

    _change(settings, "BDC", "NO_HOUSING", id_number, search_no="JHBDC" + "0" * 200)  # long, but it fits
    issued = request(live_server, me, "NO_HOUSING")
    assert issued.status_code == 201, issued.text
    text = pdf_text(live_server, me, issued.json()).replace(" ", "")
    assert "有效期" in text and "用途" in text and "手机扫码核验" in text
    assert "阅读器不核查印章或证明是否已被吊销、撤销，以核验页面的结论为准" in "".join(text.split())


def test_a_period_that_ends_before_it_starts_seals_nothing(settings: Settings) -> None:
    """A 无犯罪记录证明 over a search period ending before it starts would attest a search of no time at all."""
    proof = CATALOG.proofs["NO_CRIMINAL_RECORD"]
    id_number, name = resident_where(settings, proof, fact_holds=True)
    record = _record(settings, "GA", "NO_CRIMINAL_RECORD", id_number)[2]
    assert record["period_start"] < record["period_end"]
    from exchange.certificates.record_backing import unbacked

    swapped = {**record, "period_start": record["period_end"], "period_end": record["period_start"]}
    assert unbacked(proof, swapped, name, datetime.now(BEIJING)) == "记录中的“查询时间段止”早于“查询时间段起”"
    assert unbacked(proof, record, name, datetime.now(BEIJING)) is None


def test_a_certificate_read_from_a_license_falls_with_it(settings: Settings, live_server: str) -> None:
    """A 残疾证明 issued from the holder's 残疾人证: when the federation amends the card, the
    certificate stating the old card is revoked (data_changed); when it revokes the card as
    obtained by fraud, every certificate read from it is revoked with that reason. Each stays
    revoked when an insider sets its row back: the chain records its revocation."""
    from exchange.clients import ClientScope
    from tests.api.test_licenses_api import client
    from tests.support.cli import cli_environment, run_cli
    from tests.support.sql import sql_rows

    id_number, name, _ = _record(settings, "CL", "DISABILITY")
    me = signed_in(live_server, id_number, name)
    [card] = [held for held in httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()
              if held["license_type"] == "DISABILITY_CARD"]
    federation = client(settings, "CL", [ClientScope.LICENSES_WRITE.value])

    def status(certificate: dict[str, Any]) -> tuple[str, str | None]:
        credential = httpx.get(live_server + certificate["links"]["jws"], headers=me).text
        verdict = httpx.post(f"{live_server}/api/v1/verify", json={"credential": credential}, timeout=30).json()
        return verdict["status"], verdict.get("revocation_reason")

    before = request(live_server, me, "DISABILITY").json()
    assert status(before) == ("VALID", None)
    amended = httpx.post(f"{live_server}/api/v1/licenses/{card['identifier']}/amendments", headers=federation,
                         json={"changes": {"disability_grade": "grade_1"}}, timeout=30)
    assert amended.status_code == 201, amended.text
    assert status(before) == ("INVALID", "data_changed")

    after = request(live_server, me, "DISABILITY").json()
    assert status(after) == ("VALID", None)
    revoked = httpx.post(f"{live_server}/api/v1/licenses/{amended.json()['identifier']}/revocation",
                         headers=federation, json={"reason": "obtained_by_fraud"}, timeout=30)
    assert revoked.status_code == 200, revoked.text
    assert status(after) == ("INVALID", "obtained_by_fraud")

    sql_rows(settings.database_url, "UPDATE certificates SET status = 'valid', revoked_at = NULL, "
                                    "revocation_reason = NULL WHERE source_license IS NOT NULL")
    sql_rows(settings.database_url, "UPDATE status_lists SET token = NULL WHERE kind = 'certificates'")
    env = cli_environment(settings.database_url, settings.var_dir)
    assert run_cli(env, "certificate", "status-list", "rebuild").returncode == 0
    assert (status(before), status(after)) == (("INVALID", "data_changed"), ("INVALID", "obtained_by_fraud"))
    audited = run_cli(env, "audit", "verify")
    assert audited.returncode == 1 and "2 项日志记载的撤销、吊销" in audited.stderr, audited.stderr


@pytest.mark.parametrize("change", ["amendment", "revocation"])
def test_a_license_changed_while_a_certificate_is_read_from_it_leaves_no_certificate_of_the_old_one(
        settings: Settings, live_server: str, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    """The federation amends or revokes the 残疾人证 between the moment a 残疾证明 is read from it
    and the moment it is stored: the revocation of the certificates read from the card ran before
    this one existed, so storing it as read would leave a valid certificate of a card no longer in
    force. The certificate is read again from the card as it now stands, or from nothing."""
    from api.database import standalone_session
    from exchange import issuance
    from exchange.certificate_records import CertificateStatus, IssuedCertificate
    from exchange.clients import ClientScope
    from exchange.licenses.records import LicenseVersionRecord
    from tests.api.test_licenses_api import client

    id_number, name, _ = _record(settings, "CL", "DISABILITY")
    me = signed_in(live_server, id_number, name)
    [card] = [held for held in httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()
              if held["license_type"] == "DISABILITY_CARD"]
    federation = client(settings, "CL", [ClientScope.LICENSES_WRITE.value])
    read = issuance.pull_logged
    changed: list[httpx.Response] = []

    def changed_once_read(*args: Any, **kwargs: Any) -> Any:
        answer = read(*args, **kwargs)
        if not changed:  # from another request, committed before this one stores what it read
            changed.append(httpx.post(
                f"{live_server}/api/v1/licenses/{card['identifier']}/"
                + ("amendments" if change == "amendment" else "revocation"), headers=federation, timeout=30,
                json={"changes": {"disability_grade": "grade_1"}} if change == "amendment" else {"reason": "issued_in_error"}))
        return answer

    monkeypatch.setattr(issuance, "pull_logged", changed_once_read)
    issued = request(live_server, me, "DISABILITY")
    assert changed and changed[0].status_code in (200, 201), changed[0].text
    with standalone_session(settings.database_url) as session:
        stored = session.scalars(select(IssuedCertificate).where(IssuedCertificate.status == CertificateStatus.VALID,
                                                                 IssuedCertificate.source_license.is_not(None))).all()
        sources = {version.identifier: version for version in session.scalars(select(LicenseVersionRecord).where(
            LicenseVersionRecord.identifier.in_([certificate.source_license for certificate in stored])))}
    assert all(sources[certificate.source_license].status == "valid" for certificate in stored), \
        [(certificate.identifier, sources[certificate.source_license].status) for certificate in stored]
    if change == "amendment":  # read again from the amended card
        assert issued.status_code == 201, issued.text
        assert {certificate.identifier: certificate.source_license for certificate in stored}[
            issued.json()["identifier"]] == changed[0].json()["identifier"]


def test_a_license_that_changes_at_every_read_is_a_conflict_to_try_again(
        settings: Settings, live_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The federation amends the 残疾人证 each time a 残疾证明 has been read from it: after three
    reads the citizen is told it is being changed (409, Retry-After), not that the federation
    cannot be reached, and nothing is stored."""
    from exchange import issuance
    from exchange.clients import ClientScope
    from tests.api.test_licenses_api import client

    id_number, name, _ = _record(settings, "CL", "DISABILITY")
    me = signed_in(live_server, id_number, name)
    federation = client(settings, "CL", [ClientScope.LICENSES_WRITE.value])
    read = issuance.pull_logged
    grades = iter(["grade_1", "grade_2", "grade_3", "grade_4"])

    def amended_after_each_read(*args: Any, **kwargs: Any) -> Any:
        answer = read(*args, **kwargs)
        amended = httpx.post(f"{live_server}/api/v1/licenses/{answer.provenance['license']}/amendments",
                             headers=federation, json={"changes": {"disability_grade": next(grades)}}, timeout=30)
        assert amended.status_code == 201, amended.text
        return answer

    monkeypatch.setattr(issuance, "pull_logged", amended_after_each_read)
    refused = request(live_server, me, "DISABILITY")
    assert refused.status_code == 409 and refused.json()["type"].endswith("/conflict"), refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert httpx.get(f"{live_server}/api/v1/me/certificates", headers=me).json() == []


def test_a_record_that_leaves_out_where_seals_nothing(settings: Settings, live_server: str) -> None:
    """A "no property" with no area searched would be stated of the whole city."""
    id_number, name = resident_where(settings, CATALOG.proofs["NO_HOUSING"], fact_holds=True)
    _change(settings, "BDC", "NO_HOUSING", id_number, search_scope_region=None)
    _refused_without_seal(live_server, signed_in(live_server, id_number, name), "NO_HOUSING", "未载明", "查询范围")


def test_a_record_that_names_nobody_is_the_sources_fault_and_seals_nothing(settings: Settings,
                                                                          live_server: str) -> None:
    """One naming nobody would be sealed for whoever asks: the source broke its contract (the
    proof names its subject), so the holder is told the source's answer was faulty, and nothing is
    sealed."""
    id_number, name = resident_where(settings, CATALOG.proofs["NO_HOUSING"], fact_holds=True)
    _change(settings, "BDC", "NO_HOUSING", id_number, full_name=None, id_number=None)
    headers = signed_in(live_server, id_number, name)
    refused = request(live_server, headers, "NO_HOUSING")
    assert refused.status_code == 502 and "names no subject" in refused.json()["detail"], refused.text
    assert httpx.get(f"{live_server}/api/v1/me/certificates", headers=headers).json() == []


def test_a_permit_issued_after_it_ends_backs_nothing() -> None:
    from exchange.certificates.record_backing import unbacked

    permit = CATALOG.proofs["RESIDENCE_PERMIT"]
    record = {"full_name": "张三", "issued_at": "2030-01-01", "valid_until": "2029-01-01"}
    reason = unbacked(permit, record, "张三", datetime(2026, 12, 6, tzinfo=BEIJING))
    assert reason is not None and "早于" in reason, reason
