"""`mianzheng license verify` offline, as a verifier runs it, against trust material exported with
`seal export-trust` and `license export-status`: a credential and a presentation verify (the
nonce cannot be checked offline), a tampered one does not, and after revocation and a new
export the credential is refused."""

from __future__ import annotations

from pathlib import Path

import httpx

from api.settings import Settings
from exchange.clients import ClientScope
from demo.data import sample_residents
from tests.api.test_licenses_api import client, marriage, signed_in
from tests.support.cli import cli_environment, run_cli, run_cli_process


def test_verify_offline_before_and_after_revocation(settings: Settings, database_url: str, live_server: str,
                                                    tmp_path: Path) -> None:
    person = sample_residents(settings.sources_dir, 1)[0]
    mz = client(settings, "MZ", [ClientScope.LICENSES_WRITE])
    issued = httpx.post(f"{live_server}/api/v1/licenses", headers=mz, json=marriage(person), timeout=30).json()
    me = signed_in(live_server, person)
    credential = httpx.get(live_server + issued["links"]["credential"], headers=me).text
    shown = httpx.post(live_server + issued["links"]["presentations"], headers=me,
                       json={"items": ["marital_status"]}, timeout=30).json()["presentation"]
    (tmp_path / "license.sd-jwt").write_text(credential, "utf-8")
    (tmp_path / "license.pdf").write_bytes(httpx.get(live_server + issued["links"]["pdf"], headers=me, timeout=60).content)
    (tmp_path / "shown.txt").write_text(shown, "utf-8")
    parts = shown.split("~")
    (tmp_path / "tampered.txt").write_text("~".join([parts[0], parts[1][:-2] + "AA", parts[2]]), "utf-8")

    env = cli_environment(database_url, settings.var_dir)
    trust = str(tmp_path / "trust")
    assert run_cli(env, "seal", "export-trust", trust).returncode == 0
    assert run_cli(env, "license", "export-status", trust).returncode == 0

    valid = run_cli(env, "license", "verify", str(tmp_path / "license.sd-jwt"), "--trust", trust)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "结论：有效。" in valid.stdout and "婚姻状况：已婚" in valid.stdout
    # which license it is, and each check by its name (a verifier reads no check codes)
    assert f"证照：结婚证，证照编号 {issued['identifier']}" in valid.stdout and "发证机关 金华市民政局" in valid.stdout
    assert "通过  内容完整性：" in valid.stdout and "integrity" not in valid.stdout
    checked = run_cli_process(env, "license", "verify", str(tmp_path / "license.sd-jwt"), "--trust", trust,
                              "--id-number", "-", stdin=f"{person.id_number}\n")  # kept out of the process list
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "通过  持有人核验" in checked.stdout and person.id_number not in checked.stdout + checked.stderr
    as_pdf = run_cli(env, "license", "verify", str(tmp_path / "license.pdf"), "--trust", trust)
    assert as_pdf.returncode == 0, as_pdf.stdout + as_pdf.stderr
    assert "核验的形式：电子证照凭证（PDF 文件）" in as_pdf.stdout and "通过  PDF 文件签章" in as_pdf.stdout
    presented = run_cli(env, "license", "verify", str(tmp_path / "shown.txt"), "--trust", trust)
    assert presented.returncode == 0 and "核验的形式：亮证" in presented.stdout
    assert "跳过  一次性核验：离线核验无法检查一次性随机数是否已被使用。" in presented.stdout
    assert "配偶" not in presented.stdout
    not_mine = run_cli(env, "license", "verify", str(tmp_path / "shown.txt"), "--trust", trust, "--nonce", "clerk-0042")
    assert not_mine.returncode == 1 and "不通过  一次性核验：亮证所含的一次性随机数不是核验方给出的" in not_mine.stdout
    malformed = run_cli(env, "license", "verify", str(tmp_path / "shown.txt"), "--trust", trust, "--nonce", "x")
    assert malformed.returncode == 2 and "随机数应为" in malformed.stderr
    tampered = run_cli(env, "license", "verify", str(tmp_path / "tampered.txt"), "--trust", trust)
    assert tampered.returncode == 1 and "不通过  内容完整性" in tampered.stdout and "结论：无效。" in tampered.stdout
    from tests.seals.test_pades import _forge_info, incremental_update
    (tmp_path / "saved-again.pdf").write_bytes(incremental_update((tmp_path / "license.pdf").read_bytes(), _forge_info))
    saved_again = run_cli_process(env, "license", "verify", str(tmp_path / "saved-again.pdf"), "--trust", trust)
    assert saved_again.returncode == 1 and "签名后文件被修改" in saved_again.stdout, saved_again.stdout
    assert saved_again.stderr == ""  # the verdict says what is wrong; no library traceback before it

    httpx.post(f"{live_server}/api/v1/licenses/{issued['identifier']}/revocation", headers=mz,
               json={"reason": "issued_in_error"}, timeout=30)
    assert run_cli(env, "license", "export-status", trust).returncode == 0
    revoked = run_cli(env, "license", "verify", str(tmp_path / "license.sd-jwt"), "--trust", trust, "--json")
    assert revoked.returncode == 1 and '"revocation_reason": "issued_in_error"' in revoked.stdout
    told = run_cli(env, "license", "verify", str(tmp_path / "license.sd-jwt"), "--trust", trust)
    assert told.returncode == 1 and "结论：已撤销。" in told.stdout, told.stdout  # not "无效或无法确定"
    # which license was revoked, but not what it said
    assert f"证照：结婚证，证照编号 {issued['identifier']}（第 1 版）" in told.stdout and "已婚" not in told.stdout
    revoked_pdf = run_cli(env, "license", "verify", str(tmp_path / "license.pdf"), "--trust", trust, "--json")
    assert revoked_pdf.returncode == 1 and '"revocation_reason": "issued_in_error"' in revoked_pdf.stdout
    assert person.id_number not in revoked.stdout + valid.stdout
