"""`mianzheng serve` runs the app under gunicorn and answers over HTTP, as `scripts/serve` does."""

from __future__ import annotations

import base64
import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.support.cli import MIANZHENG, cli_environment, run_cli, wait_until_answering
from tests.support.postgres import free_port
from api.database import make_engine
from api.jobs_supervisor import MIN_STALL_SECONDS, PROCESS_NAME
from exchange.job_heartbeats import JOBS_NAME, JobHeartbeat
from tests.support.processes import child_processes, process_name


@pytest.mark.slow
def test_serve_answers_with_the_catalog_page(database_url: str, tmp_path: Path) -> None:
    env = cli_environment(database_url, tmp_path / "var")
    env.pop("MIANZHENG_PUBLIC_URL", None)
    port = free_port()
    # what scripts/serve --port does: init with the public URL of that port, which init records
    assert run_cli({**env, "MIANZHENG_PUBLIC_URL": f"http://127.0.0.1:{port}"}, "init").returncode == 0
    (tmp_path / "var" / "sources" / "BDC.db").unlink()  # every pull from it would be a 503: said at start
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/readyz", server, "the server")
        page = httpx.get(f"{base}/catalog", params={"q": "公租房"})
        assert page.status_code == 200
        assert "证明事项清单公开" in page.text and "无房证明" in page.text
        status_list = httpx.get(f"{base}/api/v1/status-lists/1").text.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(status_list + "=" * (-len(status_list) % 4)))
        assert claims["id"] == f"{base}/api/v1/status-lists/1"  # the recorded public URL, not port 8000
    finally:
        output = _stopped(server)
    assert f"{base}/catalog" in output and f"{base}/portal" in output and f"{base}/verify" in output
    [warning] = [line for line in output.splitlines() if line.startswith("警告：")]
    assert "数据源部门 BDC 的数据库" in warning and "MIANZHENG_SOURCES_FILE" in warning, warning  # not 社区 (SQ):
    # its proofs are taken by commitment or checked on site, never pulled


@pytest.mark.slow
def test_serve_init_sets_up_a_fresh_installation_then_serves_from_one_process(database_url: str,
                                                                             tmp_path: Path) -> None:
    port = free_port()
    env = {**cli_environment(database_url, tmp_path / "var"), "MIANZHENG_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen([MIANZHENG, "serve", "--init", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/readyz", server, "the server")
        assert "无房证明" in httpx.get(f"{base}/catalog", params={"q": "公租房"}).text
    finally:
        output = _stopped(server)
    assert "数据库结构已是最新。" in output and "初始化完成。" in output
    assert output.index("初始化完成。") < output.index("免证服务已启动")


def test_serve_refuses_an_uninitialised_database(tmp_path: Path) -> None:
    result = run_cli(cli_environment(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "var"), "serve")
    assert result.returncode == 4
    assert "mianzheng init" in result.stderr


def test_serve_on_a_port_in_use_says_so_before_touching_anything(tmp_path: Path) -> None:
    """Run a second time while the first still serves: the port is taken. The operator is told
    in one Chinese line, before init runs (it would write to the database, and rotate seals for a
    new address), and nothing is created."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = cli_environment(f"sqlite:///{tmp_path / 'var' / 'mianzheng.db'}", tmp_path / "var")
        result = run_cli(env, "serve", "--init", "--port", str(port))
    assert result.returncode == 4, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("错误：") and str(port) in line and "占用" in line, line
    assert not (tmp_path / "var" / "mianzheng.db").exists()


def test_a_sources_file_naming_a_missing_database_is_said_in_chinese_not_a_traceback(tmp_path: Path) -> None:
    """The operator moved a department's records database away (to restore it): the server does
    not start on that sources file, and the commands say what is wrong, in one line each."""
    env = cli_environment(f"sqlite:///{tmp_path / 'var' / 'mianzheng.db'}", tmp_path / "var")
    assert run_cli(env, "init").returncode == 0
    sources = tmp_path / "sources.yaml"
    sources.write_text("departments:\n  BDC: {database: moved-away/BDC.db}\n", encoding="utf-8")
    env = {**env, "MIANZHENG_SOURCES_FILE": str(sources)}
    for command in (("serve", "--port", str(free_port())), ("recheck", "status"), ("recheck", "run")):
        result = run_cli(env, *command)
        assert result.returncode == 4 and "Traceback" not in result.stderr, result.stderr[-600:]
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("错误：数据来源配置文件有误") and "BDC.database: no such file" in line, line


def _stopped(server: subprocess.Popen[str], timeout: float = 30) -> str:
    """Stop the server as Ctrl+C's SIGTERM does; its output. One that does not end in `timeout` is
    killed, and the test fails with the end of what it printed."""
    server.terminate()
    try:
        return server.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        server.kill()
        output = server.communicate()[0]
        raise AssertionError(f"the server did not stop within {timeout:.0f} s of SIGTERM; it printed:\n"
                             + "\n".join(output.splitlines()[-40:])) from None


def _jobs_pid(server: subprocess.Popen[str]) -> int | None:
    return next((pid for pid in child_processes(server.pid) if process_name(pid) == PROCESS_NAME), None)


def _sockets(pid: int) -> set[str]:
    return {target for fd in Path(f"/proc/{pid}/fd").iterdir() if (target := os.readlink(fd)).startswith("socket:")}


def _ended(pid: int) -> bool:
    """Whether process `pid` has ended (gone, or a zombie nobody has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def _wait_for(condition, what: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while (value := condition()) in (None, False):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)
    return value


@pytest.mark.slow
def test_the_jobs_survive_worker_deaths_are_restarted_and_ctrl_c_stops_all_quietly(
    database_url: str, tmp_path: Path
) -> None:
    env = cli_environment(database_url, tmp_path / "var")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "2", "--jobs-interval", "1"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)  # its own process group, as a terminal's foreground job
    try:
        wait_until_answering(f"{base}/readyz", server, "the server")
        _wait_for(lambda: httpx.get(f"{base}/readyz").json()["jobs"]["status"] == "ok", "the first heartbeat")
        jobs = _wait_for(lambda: _jobs_pid(server), "the jobs process")

        workers = [pid for pid in child_processes(server.pid) if process_name(pid) != PROCESS_NAME]
        assert workers, "gunicorn has workers"
        os.kill(workers[0], signal.SIGKILL)
        _wait_for(lambda: len(child_processes(server.pid)) == 3 and workers[0] not in child_processes(server.pid),
                  "a new worker")
        assert _jobs_pid(server) == jobs  # a worker's death leaves the jobs alone

        before = httpx.get(f"{base}/readyz").json()["jobs"]["last_beat"]
        os.kill(jobs, signal.SIGKILL)
        restarted = _wait_for(lambda: (pid := _jobs_pid(server)) not in (None, jobs) and pid, "a restarted jobs process")
        _wait_for(lambda: httpx.get(f"{base}/readyz").json()["jobs"]["last_beat"] != before, "a new heartbeat")
        assert httpx.get(f"{base}/readyz").status_code == 200
        # the arbiter restarts the jobs from its main loop: it runs no other thread a fork could catch holding a lock
        assert [task.name for task in Path(f"/proc/{server.pid}/task").iterdir()] == [str(server.pid)]

        os.killpg(server.pid, signal.SIGINT)  # Ctrl+C
        output, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "Traceback" not in output and "重新启动" in output, output
    assert _ended(restarted)


@pytest.mark.slow
def test_the_jobs_run_in_a_process_forked_from_the_arbiter_and_beat(database_url: str, tmp_path: Path) -> None:
    env = cli_environment(database_url, tmp_path / "var")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "1", "--jobs-interval", "1"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_answering(f"{base}/readyz", server, "the server")
        jobs = _wait_for(lambda: _jobs_pid(server), "the jobs process")
        # forked: the arbiter's program, not an interpreter started for the jobs
        assert Path(f"/proc/{jobs}/cmdline").read_bytes() == Path(f"/proc/{server.pid}/cmdline").read_bytes()
        assert os.getsid(jobs) == jobs != os.getsid(server.pid)  # Ctrl+C in the terminal reaches gunicorn alone
        before = httpx.get(f"{base}/readyz").json()["jobs"]["last_beat"]
        _wait_for(lambda: httpx.get(f"{base}/readyz").json()["jobs"]["last_beat"] not in (None, before),
                  "a heartbeat of the forked jobs")
        engine = make_engine(database_url)
        with engine.connect() as connection:
            holder = connection.scalar(select(JobHeartbeat.holder).where(JobHeartbeat.name == JOBS_NAME))
        engine.dispose()
        assert holder.split(":")[1] == str(jobs)  # the beat is the forked process's own
        assert not _sockets(jobs) & _sockets(server.pid)  # none of the server's listening sockets
        server.terminate()
        server.communicate(timeout=60)
        assert process_name(jobs) == ""  # stopped with the server
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=30)


@pytest.mark.slow
def test_a_jobs_process_that_hangs_is_killed_and_started_again(database_url: str, tmp_path: Path) -> None:
    """A jobs process stuck in a call that never returns (here stopped with SIGSTOP) left waiting
    applications unresumed and `/readyz` failing until someone restarted the server."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the process tree is the same on every database")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "1", "--jobs-interval", "1"],
                              env=cli_environment(database_url, tmp_path / "var"), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_answering(f"{base}/readyz", server, "the server")
        hung = _wait_for(lambda: _jobs_pid(server), "the jobs process")
        os.kill(hung, signal.SIGSTOP)
        stopped_at = time.monotonic()
        replaced = _wait_for(lambda: (pid := _jobs_pid(server)) not in (None, hung) and pid,
                             "the hung jobs process to be replaced", timeout=MIN_STALL_SECONDS + 45)
        assert time.monotonic() - stopped_at >= MIN_STALL_SECONDS - 1  # not before it was silent long enough
        assert _ended(hung)
        # silent longer than /readyz allows (60 s), the jobs were reported not running: the new one's beat ends that
        _wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, "a heartbeat of the new jobs process")
        assert _jobs_pid(server) == replaced  # the new one beats, so it is left alone
    finally:
        output = _stopped(server)
    assert "无响应" in output and "Traceback" not in output, output


@pytest.mark.slow
def test_the_jobs_and_the_workers_end_when_the_server_is_killed(database_url: str, tmp_path: Path) -> None:
    """A service manager restarting a server killed outright (kill -9, the OOM killer) must find
    its port free at once: workers left serving for the half minute gunicorn takes to notice
    their parent is gone made the restart fail with the port in use."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the process tree is the same on every database")
    port = free_port()
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "2", "--jobs-interval", "1"],
                              env=cli_environment(database_url, tmp_path / "var"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/readyz", server, "the server")
        jobs = _wait_for(lambda: _jobs_pid(server), "the jobs process")
        # the first worker answers /readyz while gunicorn may still be forking the second
        def both_workers() -> list[int] | None:
            found = [pid for pid in child_processes(server.pid) if pid != jobs]
            return found if len(found) == 2 else None

        workers = _wait_for(both_workers, "both workers")
    finally:
        server.kill()  # kill -9: no hook of the arbiter runs
        server.wait(timeout=30)
    _wait_for(lambda: _ended(jobs), "the jobs process to end with the server", timeout=30)
    _wait_for(lambda: all(_ended(worker) for worker in workers), "the workers to end with the server", timeout=5)


@pytest.mark.slow
def test_the_front_servers_own_errors_are_problem_documents(database_url: str, tmp_path: Path) -> None:
    """gunicorn answers a too-long request line itself, and a chunked body over the limit is 413."""
    env = cli_environment(database_url, tmp_path / "var")
    port = free_port()
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/readyz", server, "the server")
        too_long = httpx.get(f"{base}/api/v1/catalog/proofs", params={"q": "x" * 9000})
        assert too_long.status_code == 414
        assert too_long.headers["content-type"] == "application/problem+json"
        assert too_long.json()["status"] == 414 and too_long.json()["type"].startswith("/problems/")

        def chunks():  # type: ignore[no-untyped-def]
            yield b'{"qr": "'
            for _ in range(40):
                yield b"A" * 65536
            yield b'"}'

        chunked = httpx.post(f"{base}/api/v1/verify", content=chunks(), headers={"content-type": "application/json"},
                             timeout=30)
        assert chunked.status_code == 413, chunked.text
        assert chunked.json()["type"] == "/problems/payload-too-large"
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_a_malformed_request_is_logged_without_its_personal_data_or_token(database_url: str, tmp_path: Path) -> None:
    """gunicorn refuses a request line with raw UTF-8 in it, or a header line without its colon,
    and logs why, quoting the line: an ID number typed into a query, a client's token. The
    server's log names the refusal and the caller's address, not the text; an ID number in a path
    is logged masked."""
    import socket

    env = cli_environment(database_url, tmp_path / "var")
    port = free_port()
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    id_number, token = "330703199006228351", "mzc_" + "s3cr3t" * 6
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/readyz", server, "the server")
        for raw in (f"GET /verify?name=刘佳国&id_number={id_number} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                    f"GET /api/v1/me/consents HTTP/1.1\r\nHost: x\r\nAuthorization Bearer {token}\r\n\r\n".encode()):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                connection.sendall(raw)
                answer = connection.recv(65536)
            assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        # a caller's ID number where an identifier belongs: neither logged nor echoed in clear
        misplaced = httpx.get(f"http://127.0.0.1:{port}/api/v1/catalog/proofs/{id_number}")
        assert misplaced.status_code == 404 and id_number not in misplaced.text, misplaced.text
        assert "330703********8351" in misplaced.json()["instance"]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert output.count("Invalid request from ip=127.0.0.1") == 2, output
    assert id_number not in output and token not in output and "刘佳国" not in output, output
    assert '"GET /api/v1/catalog/proofs/330703********8351" 404' in output, output
    assert re.search(r'\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] 127\.0\.0\.1 "GET /api/v1/catalog/proofs/', output)


@pytest.mark.slow
@pytest.mark.parametrize("when", [[], ["late-hook"]], ids=["during-the-start", "before-the-post-fork-hook"])
def test_a_stop_asked_while_the_workers_start_ends_the_server_at_once(when: list[str]) -> None:
    """A worker takes gunicorn's signal handlers only at the end of its start; a SIGTERM that came
    before must still end it, not leave the arbiter waiting out its 30 s graceful timeout. Right
    after the fork the worker still has the arbiter's handlers, which only queue the signal on the
    worker's copy of the arbiter's signal queue: the post-fork hook must find it there."""
    server = subprocess.Popen([sys.executable, "-m", "tests.support.slow_boot_server", str(free_port()), *when],
                              cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        booting = 0
        for line in server.stdout:
            booting += "Booting worker" in line
            if booting == 2:
                break
        assert booting == 2, "the server did not start its two workers"
        time.sleep(0.5)  # both workers are inside their 5 s start (or before the hook, for 2 s)
        asked = time.monotonic()
        server.terminate()
        output, _ = server.communicate(timeout=60)
        took = time.monotonic() - asked
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=30)
    assert took < 10, output
    assert "Traceback" not in output, output


@pytest.mark.slow
def test_a_request_past_the_worker_timeout_is_a_503_problem_document(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tests.support.slow_app", str(port)],
                              cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_answering_or_404(f"http://127.0.0.1:{port}/", server)
        answer = httpx.get(f"http://127.0.0.1:{port}/slow", timeout=30)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert answer.status_code == 503, output
    assert answer.headers["content-type"] == "application/problem+json" and "retry-after" in answer.headers
    assert answer.json()["type"] == "/problems/service-unavailable"


def wait_until_answering_or_404(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline and server.poll() is None, "the slow app did not start"
            time.sleep(0.1)
