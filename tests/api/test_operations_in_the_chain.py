"""Operations in the access log's chain: each change an operator makes at the command line, or a
department system over the API, to what the exchange vouches for is an entry naming who made it;
`audit operations` lists them and `audit verify` says when a table no longer agrees with them."""

from __future__ import annotations

import getpass
import json
import re
import shutil
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from catalog.credit_code import complete_uscc
from catalog.loading import bundled_catalog_path
from core.canonical import canonical_sha256
from demo.data import DemoResident, sample_residents
from exchange.clients import ClientScope
from tests.api.test_certificates_api import client_token, issue, signed_in
from tests.api.test_licenses_api import marriage, use_request
from tests.support.cli import cli_environment, run_cli
from tests.support.live_server import serving
from tests.support.sql import sql_rows

OPERATIONS = ("SELECT reason, case_number, consumer_department, client_id, caseworker_id, purpose FROM access_log "
              "WHERE outcome = 'operation' ORDER BY seq")
OPERATOR = f"os-user:{getpass.getuser()}"


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return cli_environment(database_url, tmp_path / "var")


def operations_after(database_url: str, seen: int) -> list[tuple]:
    return [tuple(row) for row in sql_rows(database_url, OPERATIONS)[seen:]]


def certificate_issued_at_the_counter(env: dict[str, str], settings: Settings, out_dir: Path) -> str:
    """The identifier of a 无房证明 a counter operator issues to a demo resident (`certificate issue`)."""
    resident = sample_residents(settings.sources_dir, 1)[0]
    issued = run_cli(env, "certificate", "issue", "--operator", "GK-0001", "--id-number", resident.id_number,
                     "--name", resident.name, "--proof", "NO_HOUSING", "--purpose", "申请公租房", "--out", str(out_dir))
    assert issued.returncode == 0, issued.stderr
    [identifier] = set(re.findall(r"1\.2\.156\.3005\.2\.[0-9A-Z.]+[0-9A-Z]", issued.stdout))
    return identifier


def test_an_installation_records_its_catalog_and_seals_as_operations(database_url: str) -> None:
    rows = operations_after(database_url, 0)
    assert rows[0][:3] == ("catalog-published", "1", None) and rows[0][4] == OPERATOR
    assert json.loads(rows[0][5])["published_by"] == "mianzheng init"
    assert ("city-root-set-up", OPERATOR) in {(row[0], row[4]) for row in rows}
    sealed = {row[2] for row in rows if row[0] == "seal-issued"}
    assert {"BDC", "MZ", "ZJ", "GA"} <= sealed, rows


def test_every_command_that_changes_trust_is_an_entry_naming_its_operator(
        env: dict[str, str], database_url: str, settings: Settings, tmp_path: Path) -> None:
    seen = len(sql_rows(database_url, OPERATIONS))
    token = run_cli(env, "client", "add", "ZJ", "公租房审批系统").stdout.strip()
    client_id = token.split("_")[1]
    assert run_cli(env, "client", "rotate", client_id).returncode == 0
    assert run_cli(env, "client", "revoke", client_id).returncode == 0
    assert run_cli(env, "client", "revoke", client_id).returncode == 0  # revoked already: changes nothing
    assert run_cli(env, "seal", "rotate", "ZJ").returncode == 0
    identifier = certificate_issued_at_the_counter(env, settings, tmp_path)
    assert run_cli(env, "certificate", "revoke", identifier, "--reason", "issued_in_error").returncode == 0
    catalog = shutil.copytree(bundled_catalog_path(), tmp_path / "catalog")
    departments = catalog / "departments.yaml"
    departments.write_text(departments.read_text(encoding="utf-8") + (
        f"\n- code: TY\n  name_zh: 体育局\n  name_en: Sports Bureau\n  legal_name_zh: 金华市体育局\n"
        f"  uscc: {complete_uscc('11330700MB000099')}\n"), encoding="utf-8")
    published = run_cli(env, "catalog", "publish", str(catalog), "--by", "张三", "--note", "审计测试")
    assert published.returncode == 0, published.stderr

    rows = operations_after(database_url, seen)
    assert [(row[0], row[2], row[3], row[4]) for row in rows] == [
        ("client-added", "ZJ", None, OPERATOR), ("client-rotated", "ZJ", None, OPERATOR),
        ("client-revoked", "ZJ", None, OPERATOR), ("seal-rotated", "ZJ", None, OPERATOR),
        ("certificate-revoked", "BDC", None, OPERATOR), ("catalog-published", None, None, OPERATOR)], rows
    assert [row[1] for row in rows[:3]] == [client_id] * 3 and rows[4][1:2] == (identifier,)
    assert (json.loads(rows[4][5])["reason"], rows[5][1]) == ("issued_in_error", "2")
    assert json.loads(rows[5][5])["published_by"] == "张三" and json.loads(rows[5][5])["note"] == "审计测试"

    listed = run_cli(env, "audit", "operations", "--limit", "6")
    lines = listed.stdout.strip().splitlines()
    assert listed.returncode == 0 and len(lines) == 6, listed.stdout
    assert "发布目录版本" in lines[0] and "发布人：张三；说明：审计测试；内容摘要 sha256:" in lines[0], lines
    assert "撤销电子证明" in lines[1] and identifier in lines[1] and "原因：出具有误" in lines[1], lines
    assert "登记部门业务系统" in lines[5] and f"操作者：系统用户 {getpass.getuser()}" in lines[5], lines
    assert lines[5].endswith("权限：exchange:request") and "轮换业务系统访问令牌" in lines[4], lines
    verified = run_cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert ("操作记录：2 个目录版本均与访问日志中的发布记录一致，日志记载的 2 项撤销、吊销在各表中均仍有效，"
            "部门业务系统均与日志中的登记记录一致。") in verified.stdout


def test_signing_again_by_hand_and_the_keyrings_changes_are_entries_naming_their_operator(
        env: dict[str, str], database_url: str) -> None:
    """The seal officer signs the CRL before it is due and the status lists again from the
    revocations; the operator adds an encryption key, moves the sealed values to it and retires
    the old one: each is an entry naming who did it. A CRL not yet due, not signed, is none."""
    seen = len(sql_rows(database_url, OPERATIONS))
    assert run_cli(env, "seal", "crl", "--force").returncode == 0
    [(crl_number,)] = sql_rows(database_url, "SELECT crl_number FROM seal_ca")
    assert "尚未到期" in run_cli(env, "seal", "crl").stdout
    assert run_cli(env, "certificate", "status-list", "rebuild").returncode == 0
    added = run_cli(env, "keys", "rotate")
    assert added.returncode == 0, added.stderr
    key_id = int(re.search(r"已生成加密密钥 ([0-9]+)", added.stdout).group(1))  # type: ignore[union-attr]
    moved = run_cli(env, "keys", "reencrypt")
    assert moved.returncode == 0, moved.stderr
    count = re.search(r"重新加密 ([0-9]+) 条", moved.stdout).group(1)  # type: ignore[union-attr]
    assert int(count) > 0 and run_cli(env, "keys", "retire", str(key_id - 1)).returncode == 0

    rows = operations_after(database_url, seen)
    assert [(row[0], row[1], row[4], row[5]) for row in rows] == [
        ("crl-signed", str(crl_number), OPERATOR, "forced"), ("status-lists-rebuilt", "1", OPERATOR, None),
        ("encryption-key-added", str(key_id), OPERATOR, None), ("values-reencrypted", str(key_id), OPERATOR, count),
        ("encryption-key-retired", str(key_id - 1), OPERATOR, None)], rows
    listed = run_cli(env, "audit", "operations", "--limit", "5").stdout.splitlines()
    assert "停用旧加密密钥" in listed[0] and f"以当前密钥重新加密存储数据  {key_id}" in listed[1], listed
    assert "重新签发印章吊销列表" in listed[4] and "未到期提前签发" in listed[4], listed
    assert run_cli(env, "audit", "verify").returncode == 0


def test_audit_verify_says_when_a_revocation_or_a_publication_was_undone_beside_the_chain(
        env: dict[str, str], database_url: str) -> None:
    """An insider makes a revoked department system work again and puts another name on the
    catalog's publisher: the chain is whole, and the auditor's check names both, exit 1."""
    client_id = run_cli(env, "client", "add", "ZJ", "公租房审批系统").stdout.strip().split("_")[1]
    assert run_cli(env, "client", "revoke", client_id).returncode == 0
    assert run_cli(env, "seal", "revoke", "MZ", "--reason", "superseded").returncode == 0
    sql_rows(database_url, f"UPDATE exchange_clients SET revoked_at = NULL WHERE public_id = '{client_id}'")
    sql_rows(database_url, "UPDATE seals SET revoked_at = NULL, status = 'active' WHERE department_code = 'MZ'")
    sql_rows(database_url, "UPDATE catalog_versions SET published_by = '李四', note = '例行更新'")
    changed = run_cli(env, "audit", "verify")
    assert changed.returncode == 1 and "访问日志完整" in changed.stdout, changed.stdout + changed.stderr
    assert "操作记录有 3 处与访问日志不符：1 个目录版本与日志中的发布记录不同或没有发布记录" in changed.stderr, changed.stderr
    assert "2 项日志记载的撤销、吊销（电子证明、电子证照、电子印章或部门业务系统）在表中已被撤回" in changed.stderr

    sql_rows(database_url, "UPDATE catalog_versions SET number = 7")
    renumbered = run_cli(env, "audit", "verify")
    assert renumbered.returncode == 1 and "1 个日志记载发布的目录版本已不存在" in renumbered.stderr, renumbered.stderr


def test_a_department_systems_changes_name_it(settings: Settings, live_server: str, database_url: str) -> None:
    """Licenses issued, amended and revoked, and a certificate revoked, over the API: each an
    entry naming the calling system; a retried issue or a second revocation adds none."""
    resident: DemoResident = sample_residents(settings.sources_dir, 1)[0]
    seen = len(sql_rows(database_url, OPERATIONS))
    mz_token = client_token(settings, "MZ", [ClientScope.LICENSES_WRITE])
    mz = {"Authorization": f"Bearer {mz_token}"}
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident), timeout=30)
    assert issued.status_code == 201, issued.text
    retried = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident), timeout=30)
    assert retried.status_code == 200, retried.text
    first = issued.json()["identifier"]
    amended = httpx.post(f"{live_server}/api/v1/licenses/{first}/amendments", headers=mz,
                         json={"changes": {"spouse_name": "李明明"}}, timeout=30)
    assert amended.status_code == 201, amended.text
    for _ in range(2):
        revoked = httpx.post(f"{live_server}/api/v1/licenses/{first}/revocation", headers=mz,
                             json={"reason": "issued_in_error"}, timeout=30)
        assert revoked.status_code == 200, revoked.text
    certificate = issue(live_server, signed_in(live_server, resident))["identifier"]
    bdc_token = client_token(settings, "BDC", [ClientScope.CERTIFICATES_REVOKE])
    for _ in range(2):
        response = httpx.post(f"{live_server}/api/v1/certificates/{certificate}/revocation", timeout=30,
                              headers={"Authorization": f"Bearer {bdc_token}"}, json={"reason": "data_changed"})
        assert response.status_code == 200, response.text

    second = amended.json()["identifier"]
    rows = [row for row in operations_after(database_url, seen) if row[0] != "client-added"]
    assert [row[:5] for row in rows] == [
        ("license-issued", first, "MZ", mz_token.split("_")[1], None),
        ("license-amended", second, "MZ", mz_token.split("_")[1], None),
        ("license-revoked", second, "MZ", mz_token.split("_")[1], None),
        ("certificate-revoked", certificate, "BDC", bdc_token.split("_")[1], None)]
    assert [rows[0][5], rows[1][5], json.loads(rows[2][5])["reason"], json.loads(rows[3][5])["reason"]] == [
        "MZ-2026-000123", first, "issued_in_error", "data_changed"]
    assert json.loads(rows[3][5])["status_list"] == 1  # the entry its credential names, kept set from now on
    sql_rows(database_url, "UPDATE licenses SET status = 'valid'")
    sql_rows(database_url, f"UPDATE certificates SET status = 'valid' WHERE identifier = '{certificate}'")
    env = cli_environment(database_url, settings.var_dir)
    undone = run_cli(env, "audit", "verify")
    assert undone.returncode == 1 and "2 项日志记载的撤销、吊销" in undone.stderr, undone.stderr


def test_a_seal_revocation_set_back_in_its_row_stays_in_the_next_crl(env: dict[str, str], database_url: str) -> None:
    """The seal officer's next CRL is signed from the seals' rows: one set back to active must not
    drop the revoked seal from it, or every verifier would take its signatures again."""
    from cryptography import x509

    revoked = run_cli(env, "seal", "revoke", "MZ", "--reason", "key_compromise")
    assert revoked.returncode == 0, revoked.stderr
    [serial] = sql_rows(database_url, "SELECT serial_hex FROM seals WHERE department_code = 'MZ' AND revoked_at IS NOT NULL")
    sql_rows(database_url, "UPDATE seals SET revoked_at = NULL, revocation_reason = NULL, status = 'active' "
                           "WHERE department_code = 'MZ'")
    assert run_cli(env, "seal", "crl", "--force").returncode == 0
    [(crl_der,)] = sql_rows(database_url, "SELECT crl_der FROM seal_ca")
    listed = x509.load_der_x509_crl(bytes(crl_der)).get_revoked_certificate_by_serial_number(int(serial[0], 16))
    assert listed is not None
    assert listed.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise


def test_a_seal_revoked_and_set_back_in_its_row_signs_nothing(env: dict[str, str], settings: Settings,
                                                               live_server: str, database_url: str) -> None:
    """A seal revoked for key compromise, set back to active in its row: the CRL still lists it,
    so everything it signed would read 无效 to every verifier. The exchange signs nothing with
    it (the department's signing answers 503, its seal cannot sign now) until the seal officer
    gives the department a new seal, and then signs with that one."""
    resident: DemoResident = sample_residents(settings.sources_dir, 1)[0]
    mz = {"Authorization": f"Bearer {client_token(settings, 'MZ', [ClientScope.LICENSES_WRITE])}"}
    assert run_cli(env, "seal", "revoke", "MZ", "--reason", "key_compromise").returncode == 0
    sql_rows(database_url, "UPDATE seals SET revoked_at = NULL, revocation_reason = NULL, status = 'active' "
                           "WHERE department_code = 'MZ'")
    refused = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident), timeout=30)
    assert (refused.status_code, refused.json()["type"]) == (503, "/problems/service-unavailable"), refused.text
    assert "电子印章暂时无法签章" in refused.json()["detail_zh"]
    assert run_cli(env, "seal", "rotate", "MZ").returncode == 0
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident), timeout=30)
    assert issued.status_code == 201, issued.text
    credential = httpx.get(live_server + issued.json()["links"]["credential"], timeout=30,
                           headers=signed_in(live_server, resident))
    checked = httpx.post(f"{live_server}/api/v1/licenses/verification", json={"license": credential.text}, timeout=30)
    assert checked.json()["status"] == "VALID", checked.text


def test_a_crl_replaced_in_the_database_is_not_signed_over(env: dict[str, str], database_url: str) -> None:
    """A CRL the root did not sign, put in place of the stored one, would decide what the next CRL
    leaves out: the seal officer's command refuses it and changes nothing."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    [(stored,)] = sql_rows(database_url, "SELECT crl_der FROM seal_ca")
    issuer = x509.load_der_x509_crl(bytes(stored)).issuer
    now = datetime.now(timezone.utc)
    forged = (x509.CertificateRevocationListBuilder().issuer_name(issuer).last_update(now)
              .next_update(now + timedelta(days=7)).sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()))
    forged_der = forged.public_bytes(serialization.Encoding.DER)
    literal = f"X'{forged_der.hex()}'" if database_url.startswith("sqlite") else f"'\\x{forged_der.hex()}'::bytea"
    sql_rows(database_url, f"UPDATE seal_ca SET crl_der = {literal}")
    refused = run_cli(env, "seal", "crl", "--force")
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "不是城市根证书签发的" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    assert [bytes(row[0]) for row in sql_rows(database_url, "SELECT crl_der FROM seal_ca")] == [forged_der]


def test_a_department_system_revoked_stays_revoked_whatever_its_row_says(
        env: dict[str, str], settings: Settings, live_server: str, database_url: str) -> None:
    """A department system revoked at the command line, then set back in its row: its token gets
    nothing, since the chain records the revocation."""
    token = run_cli(env, "client", "add", "ZJ", "公租房审批系统").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}

    def pull() -> httpx.Response:
        return httpx.post(f"{live_server}/api/v1/exchange/requests", headers=headers, timeout=30, json={})

    assert pull().status_code == 400  # known: its (empty) request is read, and refused as such
    assert run_cli(env, "client", "revoke", token.split("_")[1]).returncode == 0
    assert pull().status_code == 401
    sql_rows(database_url, f"UPDATE exchange_clients SET revoked_at = NULL WHERE public_id = '{token.split('_')[1]}'")
    assert pull().status_code == 401
    assert "访问日志记载其吊销" in run_cli(env, "client", "list").stdout  # the operator is not told 有效
    assert run_cli(env, "client", "rotate", token.split("_")[1]).returncode == 1  # nor given a token for it


@pytest.mark.parametrize("renamed", [False, True], ids=["set-back", "set-back-and-renamed"])
def test_a_license_revoked_gives_no_department_its_data_whatever_its_rows_say(
        settings: Settings, live_server: str, database_url: str, renamed: bool) -> None:
    """A citizen's 结婚证 revoked as obtained by fraud, then set back to valid in its rows (and its
    version given another identifier than the one the revocation's entry names): a department's
    用证 finds no license to use, since the chain records the revocation of the version its
    credential names."""
    resident: DemoResident = sample_residents(settings.sources_dir, 1)[0]
    mz = {"Authorization": f"Bearer {client_token(settings, 'MZ', [ClientScope.LICENSES_WRITE])}"}
    me = signed_in(live_server, resident)
    consented = httpx.post(f"{live_server}/api/v1/me/consents", headers=me, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["MARITAL_STATUS"], "department": "ZJ", "days": 30})
    assert consented.status_code == 201, consented.text
    zj = {"Authorization": f"Bearer {client_token(settings, 'ZJ', [ClientScope.EXCHANGE_REQUEST])}"}
    uses = f"{live_server}/api/v1/exchange/license-uses"
    before = httpx.post(uses, headers=zj, json=use_request(resident, "before"), timeout=30)
    assert before.status_code == 200, before.text
    revoked = httpx.post(f"{live_server}/api/v1/licenses/{before.json()['answer']['source']['license']}/revocation",
                         headers=mz,
                         json={"reason": "obtained_by_fraud"}, timeout=30)
    assert revoked.status_code == 200, revoked.text
    after = httpx.post(uses, headers=zj, json=use_request(resident, "revoked"), timeout=30)
    assert after.status_code == 404, after.text
    sql_rows(database_url, "UPDATE license_versions SET status = 'valid', revoked_at = NULL, revocation_reason = NULL")
    sql_rows(database_url, "UPDATE licenses SET status = 'valid'")
    if renamed:
        sql_rows(database_url, "UPDATE license_versions SET identifier = identifier || '9'")
    set_back = httpx.post(uses, headers=zj, json=use_request(resident, "set-back"), timeout=30)
    assert "married" not in set_back.text, set_back.text
    if renamed:  # its sealed credential is bound to the identifier it was issued under
        altered = (set_back.status_code, set_back.json()["type"])
        assert altered == (500, "/problems/stored-record-altered"), set_back.text
        return
    assert set_back.status_code == 404, set_back.text
    mine = httpx.get(f"{live_server}/api/v1/me/licenses", headers=me, timeout=30).json()
    held = next(held for held in mine if held["identifier"] == before.json()["answer"]["source"]["license"])
    assert held["status"] == "revoked", held["status"]  # its holder is told so, not that another replaced it


def test_a_license_altered_beside_the_exchange_is_listed_as_such_beside_its_holders_others(
        settings: Settings, live_server: str, database_url: str) -> None:
    """An insider renames one of a citizen's licenses in its row, so its sealed content no longer
    opens: the holder's list (API and 我的证照) still shows the others as they are, and that one as
    altered, with nothing of its content, no download and no 亮证; using it answers as before."""
    resident: DemoResident = sample_residents(settings.sources_dir, 1)[0]
    mz = {"Authorization": f"Bearer {client_token(settings, 'MZ', [ClientScope.LICENSES_WRITE])}"}
    ga = {"Authorization": f"Bearer {client_token(settings, 'GA', [ClientScope.LICENSES_WRITE])}"}
    married = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(resident), timeout=30)
    assert married.status_code == 201, married.text
    driving = httpx.post(f"{live_server}/api/v1/licenses", headers=ga, timeout=30, json={
        "license_type": "DRIVING_LICENSE", "reference": "GA-DL-1",
        "holder": {"name": resident.name, "id_number": resident.id_number},
        "valid_from": "2020-01-01", "valid_until": "2030-01-01",
        "items": {"license_no": resident.id_number, "full_name": resident.name, "id_number": resident.id_number,
                  "vehicle_classes": ["c1"], "first_issued": "2020-01-01", "valid_from": "2020-01-01",
                  "valid_until": "2030-01-01"}})
    assert driving.status_code == 201, driving.text
    altered = married.json()["identifier"] + "9"
    sql_rows(database_url, f"UPDATE license_versions SET identifier = '{altered}' "
                           f"WHERE identifier = '{married.json()['identifier']}'")

    listed = httpx.get(f"{live_server}/api/v1/me/licenses", headers=signed_in(live_server, resident), timeout=30)
    assert listed.status_code == 200, listed.text
    held = {license["identifier"]: license for license in listed.json()}
    assert held[driving.json()["identifier"]]["status"] == "valid"
    assert held[driving.json()["identifier"]]["items"] == driving.json()["items"]
    assert held[altered]["status"] == "altered" and held[altered]["license_name_zh"] == "结婚证", held[altered]
    assert held[altered]["items"] == [] and "holder_name" not in held[altered] and held[altered]["links"] == {}
    with httpx.Client(base_url=live_server, timeout=30) as browser_like:
        browser_like.post("/dev-idp/login", data={"name": resident.name, "id_number": resident.id_number})
        page = browser_like.get("/portal/licenses")
    assert page.status_code == 200, page.text
    assert page.text.count('<section class="license"') == len(held) and "机动车驾驶证" in page.text
    section = page.text[page.text.index(f'data-identifier="{altered}"'):]
    section = section[:section.index("</section>")]
    assert "已在交换平台之外被改动" in section and "民政局" in section, section
    assert "/pdf" not in section and "<form" not in section and "李明" not in section, section
    shown = httpx.post(f"{live_server}/api/v1/me/licenses/{altered}/presentations", timeout=30,
                       headers=signed_in(live_server, resident), json={"items": ["marital_status"]})
    assert (shown.status_code, shown.json()["type"]) == (500, "/problems/stored-record-altered"), shown.text


def test_a_certificate_revoked_stays_revoked_when_its_row_and_its_signed_list_are_undone(
        env: dict[str, str], settings: Settings, live_server: str, database_url: str) -> None:
    """An insider sets a revoked certificate's row back, moves its status index and empties its
    stored signed list; the list signed next still sets the entry the certificate names, every
    verifier says INVALID, and the auditor is told."""
    resident: DemoResident = sample_residents(settings.sources_dir, 1)[0]
    me = signed_in(live_server, resident)
    certificate = issue(live_server, me)
    credential = httpx.get(live_server + certificate["links"]["jws"], headers=me).text
    bdc = {"Authorization": f"Bearer {client_token(settings, 'BDC', [ClientScope.CERTIFICATES_REVOKE])}"}
    assert httpx.post(f"{live_server}/api/v1/certificates/{certificate['identifier']}/revocation", headers=bdc,
                      json={"reason": "obtained_by_fraud"}, timeout=30).status_code == 200
    sql_rows(database_url, "UPDATE certificates SET status = 'valid', revoked_at = NULL, revocation_reason = NULL, "
                           f"status_index = status_index + 7 WHERE identifier = '{certificate['identifier']}'")
    sql_rows(database_url, "UPDATE status_lists SET token = NULL")
    assert run_cli(env, "certificate", "status-list", "rebuild").returncode == 0
    verdict = httpx.post(f"{live_server}/api/v1/verify", json={"credential": credential}, timeout=30).json()
    assert verdict["status"] == "INVALID" and verdict["revocation_reason"] == "obtained_by_fraud", verdict
    audited = run_cli(env, "audit", "verify")
    assert audited.returncode == 1 and "1 项日志记载的撤销、吊销" in audited.stderr, audited.stderr

    sql_rows(database_url, "UPDATE status_lists SET token = NULL")  # and left so: verifiers see no list at all
    emptied = run_cli(env, "audit", "verify")
    assert emptied.returncode == 1 and "1 项日志记载的撤销、吊销" in emptied.stderr, emptied.stderr


def test_a_compromised_seal_stays_in_the_crl_when_its_row_and_the_stored_crl_are_undone(
        env: dict[str, str], database_url: str) -> None:
    """An insider marks a seal revoked for key compromise as merely superseded and removes the
    stored CRL: the next CRL still lists it; with its revocation cleared too, the auditor is told."""
    from cryptography import x509

    assert run_cli(env, "seal", "revoke", "BDC", "--reason", "key_compromise").returncode == 0
    [(serial,)] = sql_rows(database_url, "SELECT serial_hex FROM seals WHERE revoked_at IS NOT NULL")
    sql_rows(database_url, f"UPDATE seals SET status = 'superseded' WHERE serial_hex = '{serial}'")
    sql_rows(database_url, "UPDATE seal_ca SET crl_der = NULL")
    assert run_cli(env, "seal", "crl", "--force").returncode == 0
    [(crl_der,)] = sql_rows(database_url, "SELECT crl_der FROM seal_ca")
    assert x509.load_der_x509_crl(bytes(crl_der)).get_revoked_certificate_by_serial_number(int(serial, 16))
    assert "1 项日志记载的撤销、吊销" in run_cli(env, "audit", "verify").stderr  # its row's status

    sql_rows(database_url, f"UPDATE seals SET status = 'active', revoked_at = NULL, revocation_reason = NULL "
                           f"WHERE serial_hex = '{serial}'")
    sql_rows(database_url, "UPDATE seal_ca SET crl_der = NULL")
    assert run_cli(env, "seal", "crl", "--force").returncode == 0
    audited = run_cli(env, "audit", "verify")
    assert audited.returncode == 1 and "1 项日志记载的撤销、吊销" in audited.stderr, audited.stderr


@pytest.mark.parametrize("hash_too", [False, True], ids=["document", "document-and-hash"])
def test_a_catalog_version_whose_document_was_edited_is_named_and_not_served(
        env: dict[str, str], settings: Settings, database_url: str, live_server: str, hash_too: bool) -> None:
    """The published document edited in place (the policy a department is held to), its recorded
    hash left as it was or made to match: no server uses it, neither the one running (which goes
    on with what it checked, or refuses the new content) nor one started after, nor a command; the
    auditor's check hashes the document again; the catalog administrator publishes it again, and
    the new version is served."""
    departments = f"{live_server}/api/v1/catalog/departments"
    assert "金华市住房和城乡建设局" in httpx.get(departments, timeout=30).text  # checked and kept by this server
    [(document,)] = sql_rows(database_url, "SELECT document FROM catalog_versions")
    text = json.dumps(json.loads(document) if isinstance(document, str) else document, ensure_ascii=False)
    edited = text.replace("金华市住房和城乡建设局", "篡改的部门", 1)
    assert edited != text
    sql_rows(database_url, "UPDATE catalog_versions SET document = '" + edited.replace("'", "''") + "'")
    if hash_too:
        sql_rows(database_url, f"UPDATE catalog_versions SET content_hash = '{canonical_sha256(json.loads(edited))}'")
    served = httpx.get(departments, timeout=30)
    assert "篡改的部门" not in served.text, served.text
    assert served.status_code == (500 if hash_too else 200), served.text
    restarted = create_app(settings)
    with serving(restarted) as restarted_url:
        refused = httpx.get(f"{restarted_url}/api/v1/catalog/departments", timeout=30)
        assert (refused.status_code, refused.json()["type"]) == (500, "/problems/stored-record-altered"), refused.text
        assert "篡改的部门" not in refused.text and "交换平台之外被改动" in refused.json()["detail_zh"]
    restarted.extensions["mianzheng"].engine.dispose()
    refused_here = run_cli(env, "client", "add", "ZJ", "公租房审批系统")
    assert refused_here.returncode == 4 and "Traceback" not in refused_here.stderr, refused_here.stderr
    assert "现行目录的存储内容与访问日志中的发布记录不符" in refused_here.stderr, refused_here.stderr
    audited = run_cli(env, "audit", "verify")
    assert audited.returncode == 1 and "1 个目录版本与日志中的发布记录不同" in audited.stderr, audited.stderr

    republished = run_cli(env, "catalog", "publish", str(bundled_catalog_path()), "--note", "重新发布")
    assert republished.returncode == 0 and "第 2 版" in republished.stdout, republished.stdout + republished.stderr
    served = httpx.get(departments, timeout=30)  # the running server takes the new version at once
    assert served.status_code == 200 and "金华市住房和城乡建设局" in served.text, served.text


def test_a_department_system_added_beside_the_chain_gets_nothing(settings: Settings, live_server: str,
                                                                  database_url: str) -> None:
    """An insider inserts a department system with a secret of their own: its token is refused,
    since the chain does not record its registration."""
    import hashlib

    secret = "x" * 43
    sql_rows(database_url, "INSERT INTO exchange_clients (public_id, department_code, name, scopes, secret_hash, "
                           "created_at) VALUES ('00000000deadbeef', 'ZJ', '影子系统', 'exchange:request', "
                           f"'{hashlib.sha256(secret.encode()).hexdigest()}', '2026-12-01 00:00:00')")
    refused = httpx.post(f"{live_server}/api/v1/exchange/requests", json={}, timeout=30,
                         headers={"Authorization": f"Bearer mzc_00000000deadbeef_{secret}"})
    assert refused.status_code == 401, refused.text
    audited = run_cli(cli_environment(database_url, settings.var_dir), "audit", "verify")
    assert audited.returncode == 1 and "1 个部门业务系统在日志中没有登记记录" in audited.stderr, audited.stderr


def test_a_department_system_edited_in_its_row_works_only_as_the_chain_records_it(
        env: dict[str, str], settings: Settings, live_server: str, database_url: str) -> None:
    """An insider sets a secret of their own on a registered department system and widens its
    scopes, and moves another to the department whose licenses it wants to issue: the insider's
    token is refused, each system keeps the department and scopes the chain records (its own
    token still works, as it did), and the auditor's check names both rows."""
    import hashlib

    resident: DemoResident = sample_residents(settings.sources_dir, 1)[0]
    pulling = run_cli(env, "client", "add", "ZJ", "公租房审批系统").stdout.strip()
    issuing = run_cli(env, "client", "add", "ZJ", "住房证照系统", "--scope", "licenses:write").stdout.strip()
    own = "y" * 43
    sql_rows(database_url, f"UPDATE exchange_clients SET secret_hash = '{hashlib.sha256(own.encode()).hexdigest()}', "
                           f"scopes = 'exchange:request licenses:write' WHERE public_id = '{pulling.split('_')[1]}'")
    sql_rows(database_url,
             f"UPDATE exchange_clients SET department_code = 'MZ' WHERE public_id = '{issuing.split('_')[1]}'")

    def issue_marriage(token: str) -> httpx.Response:
        return httpx.post(f"{live_server}/api/v1/licenses", headers={"Authorization": f"Bearer {token}"},
                          json=marriage(resident), timeout=30)

    assert issue_marriage(f"mzc_{pulling.split('_')[1]}_{own}").status_code == 401
    assert issue_marriage(pulling).status_code == 403  # the scopes the chain records: exchange:request
    assert issue_marriage(issuing).status_code == 403  # the department the chain records: ZJ issues no 结婚证
    pulled = httpx.post(f"{live_server}/api/v1/exchange/requests", headers={"Authorization": f"Bearer {pulling}"},
                        json={}, timeout=30)
    assert pulled.status_code == 400, pulled.text  # authenticated: its (empty) request is read, and refused as such
    audited = run_cli(env, "audit", "verify")
    assert audited.returncode == 1, audited.stdout + audited.stderr
    assert "2 个部门业务系统在日志中没有登记记录，或其所属部门、权限、令牌与日志记载不同" in audited.stderr, audited.stderr
    listed = [line for line in run_cli(env, "client", "list").stdout.splitlines() if pulling.split("_")[1] in line]
    assert len(listed) == 1 and "与访问日志中的登记记录不同" in listed[0], listed
