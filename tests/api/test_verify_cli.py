"""`mianzheng verify` offline, as a verifier runs it: on the committed test vectors and on a
certificate issued at the counter (`mianzheng certificate issue`) in a test installation,
before and after `mianzheng certificate revoke` and a new `mianzheng seal export-trust`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import zlib
from pathlib import Path

import base45
import cbor2
import pytest
from sqlalchemy import select

from exchange.access_log import AccessRecord
from exchange.certificates.offline_trust import STATUS_LIST_FILE
from exchange.issuance import COUNTER_BASIS
from seals.trust import EXPORTED_AT_FILE
from api.database import standalone_session
from api.settings import Settings
from demo.data import DemoResident, sample_residents
from tests.support.cli import CliResult, cli_environment, run_cli, run_cli_process

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
TRUST = str(VECTORS / "trust")
SUFFIXES = (".pdf", ".jws", ".qr.txt")


def verify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(env, "verify", *args)


@pytest.mark.parametrize(("vector", "line"), [
    ("edited/certificate.pdf", "不通过  内容完整性"),
    ("edited/certificate.qr.txt", "不通过  内容完整性：签名值校验失败。"),
    ("other-root/certificate.jws", "不通过  印章证书链：签名证书不是由本市电子印章根证书签发的。"),
    ("attachment-swapped/after-signing.pdf", "不通过  内容完整性：签名后文件被修改"),
])
def test_tampered_vectors_are_refused_with_exit_1(vector: str, line: str) -> None:
    result = verify(dict(os.environ), str(VECTORS / vector), "--trust", TRUST)
    assert result.returncode == 1, result.stderr
    assert line in result.stdout
    assert result.stdout.splitlines()[-1] == "结论：证明无效。"
    assert len(result.stdout.splitlines()) == 9  # one line per check, then the conclusion
    # the vectors' status list was signed long ago: said on stderr, with what to do
    assert "此后的撤销不会反映在本结论中" in result.stderr and "mianzheng seal export-trust" in result.stderr


def test_json_gives_the_verdict_document() -> None:
    result = verify(dict(os.environ), str(VECTORS / "other-root/certificate.qr.txt"), "--trust", TRUST, "--json")
    assert result.returncode == 1
    verdict = json.loads(result.stdout)
    assert (verdict["status"], verdict["form"]) == ("ERROR", "qr")  # offline: maybe a seal newer than the export
    assert verdict["checks"][0]["code"] == "seal_not_in_trust"


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    env = dict(os.environ)
    assert verify(env, str(tmp_path / "missing.pdf"), "--trust", TRUST).returncode == 2
    assert verify(env, str(VECTORS / "valid/certificate.jws"), "--trust", str(tmp_path / "none")).returncode == 2
    mistyped = verify(env, str(VECTORS / "valid/certificate.jws"), "--trust", TRUST, "--id-number", "33070219900307123")
    assert mistyped.returncode == 2 and "公民身份号码格式不正确" in mistyped.stderr
    result = verify(env, str(VECTORS / "valid/certificate.jws"), "--trust", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("错误：") and "export-trust" in result.stderr
    unnamed = tmp_path / "exported-before"  # trust material that does not name the exchange
    shutil.copytree(TRUST, unnamed)
    (unnamed / "exchange-uscc.txt").unlink()
    result = verify(env, str(VECTORS / "valid/certificate.jws"), "--trust", str(unnamed))
    assert result.returncode == 1 and "exchange-uscc.txt" in result.stderr and "重新导出" in result.stderr


def issued_at_the_counter(env: dict[str, str], resident: DemoResident, out: Path) -> CliResult:
    """A 无房证明 issued at the window (`mianzheng certificate issue`) into `out`."""
    issued = run_cli(env, "certificate", "issue", "--id-number", resident.id_number, "--name", resident.name,
                     "--proof", "NO_HOUSING", "--purpose", "申请公共租赁住房", "--out", str(out), "--operator", "GK-0007")
    assert issued.returncode == 0, issued.stderr
    return issued


def test_issue_verify_revoke_offline(database_url: str, settings: Settings, tmp_path: Path) -> None:
    env = cli_environment(database_url, settings.var_dir)
    resident = sample_residents(settings.sources_dir, 1)[0]
    out, trust = tmp_path / "out", tmp_path / "trust"
    issued = issued_at_the_counter(env, resident, out)
    assert resident.id_number not in issued.stdout
    with standalone_session(database_url) as session:  # the log says who at the window pulled the data
        logged = session.scalars(select(AccessRecord).order_by(AccessRecord.seq.desc()).limit(1)).one()
        assert (logged.caseworker_id, logged.legal_basis) == ("counter:GK-0007", COUNTER_BASIS)
    identifier = next(out.glob("*.pdf")).name.removesuffix(".pdf")
    files = [str(out / f"{identifier}{suffix}") for suffix in SUFFIXES]
    assert run_cli(env, "seal", "export-trust", str(trust)).returncode == 0
    assert (trust / STATUS_LIST_FILE).exists()

    for file in files:
        result = verify(env, file, "--trust", str(trust), "--id-number", resident.id_number)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "结论：证明有效。" in result.stdout and "通过  持有人核验" in result.stdout
        assert f"持有人：{resident.name}，身份证号 {resident.id_number[:6]}********{resident.id_number[-4:]}" in result.stdout
        assert resident.id_number not in result.stdout + result.stderr
    piped = run_cli_process(env, "verify", files[1], "--trust", str(trust), "--id-number", "-",
                            stdin=f"{resident.id_number}\n")  # kept out of the process list
    assert piped.returncode == 0 and "通过  持有人核验" in piped.stdout, piped.stdout + piped.stderr
    listed = run_cli(env, "certificate", "list", "--department", "BDC")
    assert identifier in listed.stdout and "有效" in listed.stdout and resident.id_number not in listed.stdout

    revoked = run_cli(env, "certificate", "revoke", identifier, "--reason", "holder_request")
    assert revoked.returncode == 0, revoked.stderr
    old_export = verify(env, files[1], "--trust", str(trust))
    assert old_export.returncode == 0  # the old export does not know yet, and says how old it is
    assert "证明状态信息（status-list.jws）签发于" in old_export.stdout and old_export.stderr == ""
    stale = verify(env, files[1], "--trust", str(trust), "--max-age", "0")
    assert "此后的撤销不会反映在本结论中" in stale.stderr
    assert run_cli(env, "seal", "export-trust", str(trust)).returncode == 0
    for file in files:
        result = verify(env, file, "--trust", str(trust))
        assert result.returncode == 1
        assert "不通过  证明状态（是否撤销）：证明已被出具单位撤销（原因：持有人申请撤销）。" in result.stdout
        assert "结论：证明已被出具单位撤销，不可使用。" in result.stdout
    assert "已撤销（持有人申请撤销）" in run_cli(env, "certificate", "list").stdout

    (trust / STATUS_LIST_FILE).unlink()
    result = verify(env, files[2], "--trust", str(trust))
    assert result.returncode == 0  # without the list, revocation cannot be seen: said, not hidden
    assert "跳过  证明状态（是否撤销）：未提供证明状态列表" in result.stdout and STATUS_LIST_FILE in result.stdout


def test_counter_issuance_refusals(database_url: str, settings: Settings, tmp_path: Path) -> None:
    env = cli_environment(database_url, settings.var_dir)
    base = ("certificate", "issue", "--operator", "GK-0001", "--name", "张三", "--purpose", "测试", "--out", str(tmp_path))
    bad_id = run_cli(env, *base, "--id-number", "330702199003071234", "--proof", "NO_HOUSING")
    assert bad_id.returncode == 1 and bad_id.stderr.startswith("错误：身份证号无效")
    unknown = run_cli(env, *base, "--id-number", "330702199003071233", "--proof", "NO_SUCH_PROOF")
    assert unknown.returncode == 3 and unknown.stderr.startswith("错误：")
    anonymous = run_cli(env, "certificate", "issue", "--name", "张三", "--purpose", "测试", "--out", str(tmp_path),
                        "--id-number", "330702199003071233", "--proof", "NO_HOUSING")
    assert anonymous.returncode == 2 and "--operator" in anonymous.stderr  # the log must say who at the window
    blank = run_cli(env, *base[:2], "--operator", "  ", *base[4:], "--id-number", "330702199003071233",
                    "--proof", "NO_HOUSING")
    assert blank.returncode == 2 and "--operator" in blank.stderr
    missing = run_cli(env, "certificate", "revoke", "1.2.156.3005.2.1001.12330700MB0000027A.0000000099.01.X",
                      "--reason", "unspecified")
    assert missing.returncode == 1 and missing.stderr.startswith("错误：电子证明编号无效")


def test_a_qr_code_sealed_after_the_trust_export_is_unconfirmed_not_invalid(database_url: str, settings: Settings,
                                                                              tmp_path: Path) -> None:
    """A bank exported the trust material; the registry's seal was rotated since. A certificate
    sealed with the new seal: its credential and PDF carry the seal's certificate and verify; its
    QR code names the seal only by its kid, which the old export cannot know. That is no sign of
    forgery: the verdict cannot be given (出错), and says to export again; after that it is valid."""
    env = cli_environment(database_url, settings.var_dir)
    resident = sample_residents(settings.sources_dir, 1)[0]
    out, trust = tmp_path / "out", tmp_path / "trust"
    assert run_cli(env, "seal", "export-trust", str(trust)).returncode == 0
    assert run_cli(env, "seal", "rotate", "BDC").returncode == 0
    issued_at_the_counter(env, resident, out)
    identifier = next(out.glob("*.pdf")).name.removesuffix(".pdf")
    credential, pdf, qr = (str(out / f"{identifier}{suffix}") for suffix in (".jws", ".pdf", ".qr.txt"))
    for carrying_the_seal in (credential, pdf):
        assert verify(env, carrying_the_seal, "--trust", str(trust)).returncode == 0
    unknown = verify(env, qr, "--trust", str(trust))
    assert unknown.returncode == 1 and "结论：无法确定证明是否有效" in unknown.stdout, unknown.stdout
    assert "出错  内容完整性：" in unknown.stdout and "mianzheng seal export-trust" in unknown.stdout
    assert json.loads(verify(env, qr, "--trust", str(trust), "--json").stdout)["status"] == "ERROR"
    assert run_cli(env, "seal", "export-trust", str(trust)).returncode == 0
    assert verify(env, qr, "--trust", str(trust)).returncode == 0


def _forged_qr(genuine: str, issued_at: object) -> str:
    """`genuine`'s payload, dated `issued_at`, under a kid no seal has and a signature of no key:
    what a forger who holds no seal of the city makes."""
    message = cbor2.loads(zlib.decompress(base45.b45decode(genuine.removeprefix("MZ2:"))))
    _protected, unprotected, payload, _signature = message.value
    content = cbor2.loads(payload)
    content[9] = issued_at
    forged = [cbor2.dumps({1: -7, 4: os.urandom(8)}), unprotected, cbor2.dumps(content), os.urandom(64)]
    return "MZ2:" + base45.b45encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, forged)))).decode("ascii")


def test_a_qr_code_naming_an_unknown_seal_and_dated_before_the_export_is_invalid(
        database_url: str, settings: Settings, tmp_path: Path) -> None:
    """The exported trust holds every seal certified up to its export, and says when that was. A
    QR code naming a seal it does not hold, dated before the export (more than the clocks'
    tolerance before), cannot be genuine: 无效; nor can one dated in the future, or with no date
    at all. Dated between, it may be a seal certified since: 无法确定, as before."""
    env = cli_environment(database_url, settings.var_dir)
    resident = sample_residents(settings.sources_dir, 1)[0]
    out, trust = tmp_path / "out", tmp_path / "trust"
    issued_at_the_counter(env, resident, out)
    assert run_cli(env, "seal", "export-trust", str(trust)).returncode == 0
    genuine = next(out.glob("*.qr.txt")).read_text(encoding="ascii").strip()
    now = int(time.time())
    verdicts = {}
    for name, dated in (("an hour before", now - 3600), ("a minute before", now - 60), ("after", now + 60),
                        ("a day ahead", now + 86400), ("undated", None)):
        (tmp_path / "forged.qr.txt").write_text(_forged_qr(genuine, dated), encoding="ascii")
        verdict = json.loads(verify(env, str(tmp_path / "forged.qr.txt"), "--trust", str(trust), "--json").stdout)
        verdicts[name] = (verdict["status"], verdict["checks"][0]["code"])
    assert verdicts == {"an hour before": ("INVALID", "certificate_missing"),
                        "a minute before": ("ERROR", "seal_not_in_trust"),  # within the clocks' tolerance
                        "after": ("ERROR", "seal_not_in_trust"),
                        "a day ahead": ("INVALID", "certificate_missing"),  # a genuine seal's would be refused too
                        "undated": ("INVALID", "malformed")}
    (trust / EXPORTED_AT_FILE).write_text("2099-01-01T00:00:00+00:00\n")  # a fast clock, or edited
    (tmp_path / "forged.qr.txt").write_text(_forged_qr(genuine, now - 3600), encoding="ascii")
    verdict = json.loads(verify(env, str(tmp_path / "forged.qr.txt"), "--trust", str(trust), "--json").stdout)
    assert verdict["status"] == "ERROR"  # an export time still to come is not taken: as if it said none
    (trust / EXPORTED_AT_FILE).write_text("2026-12-07T07:44:27\n")  # no time zone: said, not taken as no trust
    unusable = verify(env, str(tmp_path / "forged.qr.txt"), "--trust", str(trust))
    assert unusable.returncode == 1 and EXPORTED_AT_FILE in unusable.stderr and "重新导出" in unusable.stderr
    (trust / EXPORTED_AT_FILE).unlink()  # exported before the export said when: as before
    (tmp_path / "forged.qr.txt").write_text(_forged_qr(genuine, now - 3600), encoding="ascii")
    verdict = json.loads(verify(env, str(tmp_path / "forged.qr.txt"), "--trust", str(trust), "--json").stdout)
    assert verdict["status"] == "ERROR"


def test_the_list_says_a_certificate_whose_seal_was_compromised_is_no_longer_valid(
        database_url: str, settings: Settings, tmp_path: Path) -> None:
    """Every verifier calls a certificate sealed with a seal since revoked for key compromise 无效:
    the counter's list must not go on calling it 有效."""
    env = cli_environment(database_url, settings.var_dir)
    issued_at_the_counter(env, sample_residents(settings.sources_dir, 1)[0], tmp_path / "out")
    identifier = next((tmp_path / "out").glob("*.pdf")).name.removesuffix(".pdf")
    assert run_cli(env, "seal", "revoke", "BDC", "--reason", "key_compromise").returncode == 0
    [line] = [line for line in run_cli(env, "certificate", "list").stdout.splitlines() if identifier in line]
    assert line.endswith("已失效（出具单位的电子印章因密钥泄露被吊销）"), line
