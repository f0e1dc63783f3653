"""The installation's trust as verifiers and seal officers use it: `mianzheng init` made a
city CA and a seal per department; the material is published over HTTP; signatures made with
a department seal verify against it in outside tools; revocation reaches the CRL."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import text

from api.database import standalone_session
from api.seal_config import seal_settings
from api.settings import Settings
from catalog.loading import bundled_catalog_path, load_catalog
from seals.pades import sign_pdf
from seals.registry import active_signer
from tests.seals.conftest import make_pdf
from tests.support.cli import cli_environment, run_cli
from tests.support.pdf_tools import nss_db_trusting, run_pdfsig

DEPARTMENTS = load_catalog(bundled_catalog_path()).departments


def _root(base_url: str) -> x509.Certificate:
    response = httpx.get(f"{base_url}/api/v1/trust/root.pem")
    assert response.headers["content-type"].startswith("application/x-pem-file")
    return x509.load_pem_x509_certificate(response.content)


def test_every_department_has_a_published_seal(live_server: str) -> None:
    seals = httpx.get(f"{live_server}/api/v1/trust/seals").json()
    assert {s["department_code"] for s in seals if s["status"] == "active"} == set(DEPARTMENTS)
    bdc = next(s for s in seals if s["department_code"] == "BDC")
    assert bdc["department_name"] == "金华市不动产登记中心"
    assert bdc["uscc"] == DEPARTMENTS["BDC"].uscc
    certificate = x509.load_pem_x509_certificate(httpx.get(live_server + bdc["certificate_url"]).content)
    root = _root(live_server)
    certificate.verify_directly_issued_by(root)
    image = httpx.get(live_server + bdc["image_url"])
    assert image.content.startswith(b"\x89PNG")
    keys = httpx.get(f"{live_server}/api/v1/trust/jwks.json").json()["keys"]
    assert bdc["kid"] in {k["kid"] for k in keys}
    crl = x509.load_der_x509_crl(httpx.get(f"{live_server}/api/v1/trust/crl").content)
    assert crl.is_signature_valid(root.public_key())
    assert len(list(crl)) == 0


def test_a_verifier_learns_over_http_which_seal_is_the_exchanges(settings: Settings, live_server: str,
                                                                 tmp_path: Path) -> None:
    """Only the exchange's seal signs receipts and status lists: another department's seal over
    an altered answer is a signature, not a receipt. A department system or a bank that builds
    its trust from what is published learns the exchange's credit code (the file an offline
    verifier's folder needs), and the seal list says which seals are the exchange's."""
    published = httpx.get(f"{live_server}/api/v1/trust/exchange-uscc.txt")
    assert published.status_code == 200 and published.headers["content-type"].startswith("text/plain")
    exchange = DEPARTMENTS[settings.exchange_department].uscc
    assert published.text == exchange + "\n"
    seals = httpx.get(f"{live_server}/api/v1/trust/seals").json()
    assert {s["department_code"] for s in seals if s["exchange"]} == {settings.exchange_department}
    certificate = x509.load_pem_x509_certificate(httpx.get(live_server + next(
        s for s in seals if s["exchange"] and s["status"] == "active")["certificate_url"]).content)
    from cryptography.x509.oid import NameOID

    [named] = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    assert named.value == f"NTRCN-{exchange}"


def test_unknown_seal_is_a_problem(live_server: str) -> None:
    response = httpx.get(f"{live_server}/api/v1/trust/seals/nope.pem")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_a_department_signed_pdf_is_trusted_by_pdfsig(settings: Settings, live_server: str, tmp_path: Path) -> None:
    with standalone_session(settings.database_url) as session:
        signed = sign_pdf(make_pdf(), active_signer(session, seal_settings(settings), "BDC"))
    report = run_pdfsig(signed, tmp_path, nss_db_trusting(_root(live_server).public_bytes(Encoding.PEM), tmp_path))
    assert "Signature is Valid" in report
    assert "Certificate is Trusted" in report
    assert "金华市不动产登记中心" in report


def test_key_files_are_private_and_never_in_the_database(settings: Settings) -> None:
    key_files = list(settings.key_dir.iterdir())
    assert len(key_files) == len(DEPARTMENTS) + 1
    for path in key_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert stat.S_IMODE(os.stat(settings.key_dir).st_mode) == 0o700
    with standalone_session(settings.database_url) as session:
        stored = " ".join(str(row) for row in session.execute(text("SELECT * FROM seals")).all())
        stored += " ".join(str(row) for row in session.execute(text("SELECT * FROM seal_ca")).all())
    assert "PRIVATE KEY" not in stored


def test_the_serial_is_taken_as_openssl_prints_it_and_listed(database_url: str, settings: Settings) -> None:
    """`openssl x509 -serial` prints upper case, `openssl crl -text` with colons: either form
    names the seal, and `seal list` shows the serial to copy."""
    env = cli_environment(database_url, settings.var_dir)
    listed = run_cli(env, "seal", "list", "GA")
    with standalone_session(database_url) as session:
        serial = session.execute(text("SELECT serial_hex FROM seals WHERE department_code = 'GA'")).scalar_one()
    assert listed.returncode == 0 and serial in listed.stdout
    printed = serial.upper().rjust(40, "0")
    colons = ":".join(printed[i:i + 2] for i in range(0, 40, 2))
    revoked = run_cli(env, "seal", "revoke", "GA", "--reason", "superseded", "--serial", colons)
    assert revoked.returncode == 0 and serial in revoked.stdout, revoked.stderr
    assert run_cli(env, "seal", "revoke", "GA", "--reason", "superseded", "--serial", "XYZ").returncode == 1


def test_init_makes_key_material_private_again(database_url: str, settings: Settings) -> None:
    """A restore or a hand left the seal keys' folder 0755 and a key 0644: init makes them private."""
    env = cli_environment(database_url, settings.var_dir)
    key_file = next(settings.key_dir.iterdir())
    secret = next(path for path in settings.secrets_dir.iterdir() if path.is_file())
    os.chmod(settings.key_dir, 0o755)
    os.chmod(key_file, 0o644)
    os.chmod(secret, 0o644)
    again = run_cli(env, "init")
    assert again.returncode == 0 and "0600" in again.stdout, again.stderr
    assert stat.S_IMODE(settings.key_dir.stat().st_mode) == 0o700
    assert {stat.S_IMODE(key_file.stat().st_mode), stat.S_IMODE(secret.stat().st_mode)} == {0o600}


def test_seal_commands_refuse_in_chinese(database_url: str, settings: Settings) -> None:
    """A second seal for a department, and a root key file that cannot be opened: one Chinese
    line each, saying nothing changed."""
    env = cli_environment(database_url, settings.var_dir)
    again = run_cli(env, "seal", "issue", "BDC")
    assert again.returncode == 1 and "该部门已有有效印章" in again.stderr and "rotate it" not in again.stderr
    root_key = next(settings.key_dir.glob("city-root-*.key"))
    root_key.write_bytes(b"garbled")
    broken = run_cli(env, "seal", "rotate", "GA")
    assert broken.returncode == 4 and broken.stderr.startswith("错误：无法使用密钥文件"), broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1


def test_seal_officer_revokes_rotates_and_exports(database_url: str, settings: Settings, live_server: str,
                                                  tmp_path: Path) -> None:
    env = cli_environment(database_url, settings.var_dir)
    revoked = run_cli(env, "seal", "revoke", "BDC", "--reason", "key_compromise")
    assert revoked.returncode == 0, revoked.stderr
    assert "已吊销 金华市不动产登记中心" in revoked.stdout and "（北京时间）" in revoked.stdout  # as init's notice says it
    served = httpx.get(f"{live_server}/api/v1/trust/crl")
    crl = x509.load_der_x509_crl(served.content)
    bdc_serials = {s["serial_hex"] for s in httpx.get(f"{live_server}/api/v1/trust/seals").json()
                   if s["department_code"] == "BDC"}
    assert {format(entry.serial_number, "x") for entry in crl} == bdc_serials
    # a cache on the way revalidates the CRL each time (a 304 while unchanged): it never hides a revocation
    assert served.headers["cache-control"] == "no-cache" and served.headers["etag"]
    assert httpx.get(f"{live_server}/api/v1/trust/crl",
                     headers={"If-None-Match": served.headers["etag"]}).status_code == 304
    # a JOSE library taking keys by kid from the JWKS never finds the compromised one there
    bdc_kids = {s["kid"] for s in httpx.get(f"{live_server}/api/v1/trust/seals").json()
                if s["department_code"] == "BDC"}
    published = {key["kid"] for key in httpx.get(f"{live_server}/api/v1/trust/jwks.json").json()["keys"]}
    assert published and not bdc_kids & published

    again = run_cli(env, "seal", "revoke", "BDC", "--reason", "key_compromise")
    assert again.returncode == 3 and len(again.stderr.strip().splitlines()) == 1
    by_serial = run_cli(env, "seal", "revoke", "BDC", "--reason", "superseded", "--serial", min(bdc_serials))
    assert by_serial.returncode == 1 and "该印章已被吊销，本次未作任何更改" in by_serial.stderr, by_serial.stderr

    assert run_cli(env, "seal", "issue", "BDC").returncode == 0
    rotated = run_cli(env, "seal", "rotate", "GA")
    assert rotated.returncode == 0, rotated.stderr
    listing = run_cli(env, "seal", "list", "GA").stdout.splitlines()
    assert [line.split()[1] for line in listing] == ["有效", "已轮换"]

    exported = run_cli(env, "seal", "export-trust", str(tmp_path / "trust"))
    assert exported.returncode == 0, exported.stderr
    assert len(list((tmp_path / "trust" / "seals").glob("*.pem"))) == len(DEPARTMENTS) + 2
    assert (tmp_path / "trust" / "root.pem").read_bytes() == _root(live_server).public_bytes(Encoding.PEM)


@pytest.mark.parametrize(("args", "code"), [(["seal", "init-ca"], 1), (["seal", "issue", "NOWHERE"], 3),
                                             (["seal", "issue", "GA"], 1)])
def test_seal_commands_refuse_what_would_break_trust(database_url: str, settings: Settings,
                                                     args: list[str], code: int) -> None:
    result = run_cli(cli_environment(database_url, settings.var_dir), *args)
    assert result.returncode == code
    assert result.stderr.startswith("错误：") and len(result.stderr.strip().splitlines()) == 1


def test_a_compromised_seal_is_followed_by_what_its_department_must_do(database_url: str, settings: Settings) -> None:
    """The notice after a key compromise names only what applies: 税务局 issues certificates and
    no licenses, so there is nothing for `license reseal`; the exchange's own seal made usage
    copies, which departments must ask for again."""
    env = cli_environment(database_url, settings.var_dir)
    tax = run_cli(env, "seal", "revoke", "SW", "--reason", "key_compromise")
    assert tax.returncode == 0 and "license reseal" not in tax.stderr, tax.stderr
    assert "mianzheng seal issue SW" in tax.stderr and "电子证明由持有人重新开具" in tax.stderr, tax.stderr
    exchange = run_cli(env, "seal", "revoke", settings.exchange_department, "--reason", "key_compromise")
    assert exchange.returncode == 0 and "license reseal" not in exchange.stderr, exchange.stderr
    assert "加注件" in exchange.stderr, exchange.stderr
    registry = run_cli(env, "seal", "revoke", "BDC", "--reason", "key_compromise")
    assert "mianzheng license reseal BDC" in registry.stderr and "电子证明由持有人重新开具" in registry.stderr
