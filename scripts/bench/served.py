"""What the benchmarks of the served app share: `mianzheng serve` (gunicorn) on a free port, and
wrk (`wrk_load`, a C load generator driven by a Lua script) measuring rate and p50/p99 latency, and
the Lua scripts that POST a new request each time (`json_posts_lua`). The generator runs on the
same machine as the server, so compare ratios measured in the same run, not rates."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from api.initialise import initialise
from api.settings import Settings


@contextmanager
def served_installation(description: str) -> Iterator[tuple[argparse.Namespace, Settings, str]]:
    """A fresh installation in a temporary folder (SQLite unless --database-url) served by
    `mianzheng serve`: the parsed command line (--seconds, --workers, --database-url), the
    installation's settings and the server's base URL."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mianzheng-bench-") as folder:
        var_dir = Path(folder) / "var"
        database_url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        # demo mode: init generates the demo source departments the exchange pulls from
        settings = Settings(var_dir=var_dir, database_url=database_url, public_url="http://127.0.0.1:8000",
                            dev_idp=True)
        initialise(settings)
        port = free_port()
        server = serve(var_dir, database_url, port, args.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base)
            yield args, settings, base
        finally:
            server.terminate()
            server.wait(timeout=30)


def growth_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a bench comparing a fresh installation with a grown one."""
    parser.add_argument("--seconds", type=float, default=5.0, help="per load measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="an empty database to grow (default: SQLite in a "
                        "temporary folder; the fresh installation is always SQLite there)")
    parser.add_argument("--var-dir", type=Path, default=None, help="the grown installation's files, with --database-url")


def fresh_and_grown(folder: Path, args: argparse.Namespace) -> tuple[Settings, Settings]:
    """The two demo installations of a growth bench (`growth_arguments`), in `folder`, not yet initialised."""
    os.environ["MIANZHENG_DEV_IDP"] = "1"  # demo mode: the exchange asks the demo departments
    fresh, grown = (Settings(var_dir=var_dir, database_url=url, public_url="http://127.0.0.1:8000", dev_idp=True)
                    for var_dir, url in ((folder / "fresh", f"sqlite:///{folder / 'fresh.db'}"),
                                         (args.var_dir or folder / "grown",
                                          args.database_url or f"sqlite:///{folder / 'grown.db'}")))
    return fresh, grown


WRK_INSTALL = "sudo apt-get install -y wrk"


@dataclass(frozen=True)
class Load:
    """What wrk measured: requests per second and latency percentiles in milliseconds."""

    rate: float
    p50: float
    p99: float


def require_wrk() -> str:
    """wrk's path, or exit naming the command that installs it."""
    found = shutil.which("wrk")
    if found is None:
        sys.exit(f"wrk (the load generator) is not installed: {WRK_INSTALL}")
    return found


_WRK_REPORT = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"status_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


_WRK_FIRST_FAILURE = """
local failure_noted = false
function response(status, headers, body)
  if status >= 400 and not failure_noted then
    failure_noted = true
    local file = io.open({path}, "a")
    file:write(status .. " " .. body:sub(1, 400) .. "\\n")
    file:close()
  end
end
"""
"""Notes each thread's first failed answer (a POST script's only: a `response` hook slows wrk)."""


def wrk_load(url: str, clients: int, seconds: float, lua: str = "") -> Load:
    """Drive `url` with wrk: `clients` connections for `seconds`. `lua` may define wrk's
    `request()` (e.g. a POST with a new body each time); any non-2xx/3xx answer or socket
    error ends the benchmark, since the rate of failed requests would mean nothing (the first
    failed answer's status and body are shown)."""
    wrk = require_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", encoding="utf-8") as script, \
            tempfile.NamedTemporaryFile("r", suffix=".txt", encoding="utf-8") as failures:
        noting = _WRK_FIRST_FAILURE.replace("{path}", lua_string(failures.name)) if lua else ""
        script.write(lua + noting + _WRK_REPORT)
        script.flush()
        completed = subprocess.run(
            [wrk, "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
             "-s", script.name, url], capture_output=True, text=True, check=True)
        report = json.loads(completed.stdout.strip().splitlines()[-1])
        if report["errors"] or report["status_errors"]:
            sys.exit(f"wrk: {report['status_errors']} failed answers, {report['errors']} socket errors on {url}\n"
                     f"{completed.stdout}\nfirst failed answers: {failures.read() or '-'}")
    return Load(report["requests"] / (report["duration_us"] / 1e6), report["p50_us"] / 1000, report["p99_us"] / 1000)


def json_posts_lua(token: str, bodies: list[dict[str, Any]], own_case_numbers: bool = False) -> str:
    """A wrk script POSTing `bodies` in turn as JSON with the bearer `token`, each with a request id
    of its own (thread, counter and the time the script was made) in place of any it had; with
    `own_case_numbers`, a case number of its own too (an application's case is filed once). Make
    one for each run of wrk: a second run of the same script would repeat its request ids."""
    replaced = {"request_id", "case_number"} if own_case_numbers else {"request_id"}
    rests = ",\n".join(lua_string(json.dumps({k: v for k, v in body.items() if k not in replaced},
                                              ensure_ascii=False)[1:]) for body in bodies)
    case_number = """'"case_number":"' .. run .. '-' .. tid .. '-' .. counter .. '",' .. """ if own_case_numbers else ""
    return f"""
local bodies = {{
{rests}
}}
local run = "{time.time_ns()}"
local threads = 0
local counter = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
function request()
  counter = counter + 1
  local body = '{{"request_id":"bench-' .. run .. '-' .. tid .. '-' .. counter .. '",' .. {case_number}
    bodies[(counter * 2 + tid) % #bodies + 1]
  return wrk.format(nil, nil, nil, body)
end
"""


def lua_string(text: str) -> str:
    """`text` as a Lua string literal (long brackets: no escapes needed)."""
    return f"[==[{text}]==]"


def serve(var_dir: Path, database_url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MIANZHENG_VAR_DIR": str(var_dir), "MIANZHENG_DATABASE_URL": database_url}
    mianzheng = str(Path(sys.executable).with_name("mianzheng"))
    return subprocess.Popen([mianzheng, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(base: str, probe: str | None = "/readyz") -> None:
    """Wait until `probe` answers 200 at `base` (without a probe: until anything answers)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}{probe or '/'}")
            if probe is None or answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    sys.exit("the server did not become ready")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
