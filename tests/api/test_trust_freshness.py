"""Server processes keep parsed trust material (seal certificates, the CRL, status lists) in
memory, keyed by what the database holds: a revoked certificate, a revoked seal and a new seal
are seen at once by every process, without a restart."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from api.settings import Settings
from demo.data import sample_residents
from tests.support.cli import MIANZHENG, cli_environment, run_cli, wait_until_answering
from tests.support.postgres import free_port


@contextmanager
def served(env: dict[str, str]) -> Iterator[str]:
    """`mianzheng serve` with one worker: one process, one set of in-memory caches."""
    port = free_port()
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/readyz", server, "the server")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def verdicts(servers: list[str], credential: str) -> list[dict[str, str]]:
    """The verdict of each server: its status and the code of each check."""
    results = []
    for base in servers:
        response = httpx.post(f"{base}/api/v1/verify", json={"credential": credential})
        assert response.status_code == 200, response.text
        verdict = response.json()
        results.append({"status": verdict["status"], **{c["check"]: c["code"] for c in verdict["checks"]}})
    return results


@pytest.mark.slow
def test_two_server_processes_see_revocations_and_new_seals_at_once(database_url: str, settings: Settings,
                                                                    tmp_path: Path) -> None:
    env = cli_environment(database_url, settings.var_dir)
    resident = sample_residents(settings.sources_dir, 1)[0]

    def issue(name: str) -> tuple[str, str]:
        out = tmp_path / name
        issued = run_cli(env, "certificate", "issue", "--operator", "GK-0001", "--id-number", resident.id_number, "--name", resident.name,
                         "--proof", "NO_HOUSING", "--purpose", "申请公共租赁住房", "--out", str(out))
        assert issued.returncode == 0, issued.stderr
        jws = next(out.glob("*.jws"))
        return jws.name.removesuffix(".jws"), jws.read_text(encoding="ascii").strip()

    first_id, first = issue("first")
    with ExitStack() as stack:
        servers = [stack.enter_context(served(env)) for _ in range(2)]
        assert [v["status"] for v in verdicts(servers, first)] == ["VALID", "VALID"]  # both have cached it all

        assert run_cli(env, "certificate", "revoke", first_id, "--reason", "holder_request").returncode == 0
        assert [(v["status"], v["certificate_status"]) for v in verdicts(servers, first)] == \
               [("INVALID", "certificate_revoked")] * 2

        _, second = issue("second")
        assert [v["status"] for v in verdicts(servers, second)] == ["VALID", "VALID"]
        revoked = run_cli(env, "seal", "revoke", "BDC", "--reason", "key_compromise")
        assert revoked.returncode == 0, revoked.stderr
        # seal_revoked, or seal_revoked_key_compromise when the revocation fell in a later second
        assert [(v["status"], v["seal_status"][:12]) for v in verdicts(servers, second)] == \
               [("INVALID", "seal_revoked")] * 2

        issued = run_cli(env, "seal", "issue", "BDC")
        assert issued.returncode == 0, issued.stderr
        _, third = issue("third")
        assert [v["status"] for v in verdicts(servers, third)] == ["VALID", "VALID"]
