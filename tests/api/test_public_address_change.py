"""`scripts/serve --port N` on an installation first initialised on another port: init rotates
the seals so their certificates name the CRL at the new address (the seal officer's rotation;
documents signed before keep their superseded seals), signs the status lists under it naming
the old address as an alias, and a server on the new port answers at every address its trust
material names and still vouches for a certificate issued before the move."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from demo.data import sample_residents
from seals.ca import crl_urls
from tests.support.cli import MIANZHENG, cli_environment, run_cli, wait_until_answering
from tests.support.postgres import free_port

pytestmark = pytest.mark.slow


def test_a_new_port_after_the_first_init_moves_every_address(database_url: str, tmp_path: Path) -> None:
    env = {**cli_environment(database_url, tmp_path / "var"), "MIANZHENG_DEV_IDP": "1"}  # demo mode: demo residents
    env.pop("MIANZHENG_PUBLIC_URL", None)
    first = run_cli({**env, "MIANZHENG_PUBLIC_URL": "http://127.0.0.1:8000"}, "init")
    assert first.returncode == 0 and "轮换" not in first.stdout
    resident = sample_residents(tmp_path / "var" / "sources", 1)[0]
    out = tmp_path / "out"
    issued = run_cli(env, "certificate", "issue", "--operator", "GK-0001", "--id-number", resident.id_number, "--name", resident.name,
                     "--proof", "NO_HOUSING", "--purpose", "申请公共租赁住房", "--out", str(out))
    assert issued.returncode == 0, issued.stderr
    [credential] = out.glob("*.jws")
    written = {path.name: oct(path.stat().st_mode & 0o777) for path in out.iterdir()}  # the holder's personal data
    assert len(written) == 3 and set(written.values()) == {"0o600"}, written
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    moved = run_cli({**env, "MIANZHENG_PUBLIC_URL": base}, "init")
    assert moved.returncode == 0, moved.stderr
    assert f"个部门轮换电子印章，新印章证书中的吊销列表地址为 {base}/api/v1/trust/crl" in moved.stdout
    again = run_cli({**env, "MIANZHENG_PUBLIC_URL": base}, "init")
    assert again.returncode == 0 and "轮换" not in again.stdout  # nothing left to move

    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_answering(f"{base}/readyz", server, "the server")
        seals = httpx.get(f"{base}/api/v1/trust/seals").json()
        active = [seal for seal in seals if seal["status"] == "active"]
        superseded = [seal for seal in seals if seal["status"] == "superseded"]
        assert active and len(superseded) == len(active)  # the old seals stay for what they signed
        for seal in active:
            pem = httpx.get(f"{base}{seal['certificate_url']}").content
            assert crl_urls(x509.load_pem_x509_certificate(pem)) == [f"{base}/api/v1/trust/crl"]
        crl = httpx.get(f"{base}/api/v1/trust/crl")
        assert crl.status_code == 200 and x509.load_der_x509_crl(crl.content).next_update_utc is not None
        for seal in superseded:
            pem = httpx.get(f"{base}{seal['certificate_url']}").content
            assert crl_urls(x509.load_pem_x509_certificate(pem)) == ["http://127.0.0.1:8000/api/v1/trust/crl"]
        token = httpx.get(f"{base}/api/v1/status-lists/1").text.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        assert claims["id"] == f"{base}/api/v1/status-lists/1"
        assert claims["alsoKnownAs"] == ["http://127.0.0.1:8000/api/v1/status-lists/1"]
        verdict = httpx.post(f"{base}/api/v1/verify", json={"credential": credential.read_text().strip()}).json()
        assert verdict["status"] == "VALID", verdict
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_a_database_restored_beside_a_var_without_its_address_keeps_what_its_certificates_name(
        database_url: str, tmp_path: Path) -> None:
    """A restore that brings back the database, the keys and the secrets but not `var/public-url`:
    init keeps the address the seals name rather than the default, and, given another address,
    keeps the old one as former, so a certificate revoked before the backup still reads revoked
    in an export for offline verifiers (its status list names the old address)."""
    env = {**cli_environment(database_url, tmp_path / "var"), "MIANZHENG_DEV_IDP": "1"}
    env.pop("MIANZHENG_PUBLIC_URL", None)
    base = f"http://127.0.0.1:{free_port()}"
    assert run_cli({**env, "MIANZHENG_PUBLIC_URL": base}, "init").returncode == 0
    resident = sample_residents(tmp_path / "var" / "sources", 1)[0]
    issued = run_cli(env, "certificate", "issue", "--operator", "GK-0001", "--id-number", resident.id_number,
                     "--name", resident.name, "--proof", "NO_HOUSING", "--purpose", "申请公共租赁住房",
                     "--out", str(tmp_path / "out"))
    assert issued.returncode == 0, issued.stderr
    [credential] = (tmp_path / "out").glob("*.jws")
    revoked = run_cli(env, "certificate", "revoke", credential.name.removesuffix(".jws"), "--reason", "holder_request")
    assert revoked.returncode == 0, revoked.stderr

    (tmp_path / "var" / "public-url").unlink()
    kept = run_cli(env, "init")
    assert kept.returncode == 0 and "轮换" not in kept.stdout and base in kept.stdout, kept.stdout
    assert (tmp_path / "var" / "public-url").read_text().split()[0] == base

    (tmp_path / "var" / "public-url").unlink()
    moved = run_cli({**env, "MIANZHENG_PUBLIC_URL": "http://127.0.0.1:8000"}, "init")
    assert moved.returncode == 0 and "轮换" in moved.stdout, moved.stdout
    recorded = (tmp_path / "var" / "public-url").read_text().split()
    assert recorded[0] == "http://127.0.0.1:8000" and base in recorded, recorded
    trust = tmp_path / "trust"
    assert run_cli({**env, "MIANZHENG_PUBLIC_URL": "http://127.0.0.1:8000"}, "seal", "export-trust",
                   str(trust)).returncode == 0
    offline = run_cli(env, "verify", str(credential), "--trust", str(trust))
    assert offline.returncode != 0 and "已被出具单位撤销" in offline.stdout + offline.stderr, offline.stdout + offline.stderr
