"""What the benchmarks of the served app share: `mianzheng serve` (gunicorn) on a free port, and
load generators measuring rate and p50/p99 latency: wrk (`wrk_load`, a C load generator driven by
a Lua script, for the rows compared with a trivial endpoint) and concurrent Python clients
(`measure`, for slow multi-step requests where the generator's own cost does not matter). The
generator runs on the same machine as the server, so compare ratios measured in the same run, not
rates."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


class Result:
    def __init__(self, latencies: list[float], elapsed: float) -> None:
        self.rate = len(latencies) / elapsed
        ordered = sorted(latencies)
        self.p50 = statistics.median(ordered) * 1000
        self.p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def measure(send: Callable[[httpx.Client], httpx.Response], clients: int, seconds: float,
            ok: tuple[int, ...] = (200,)) -> Result:
    """Rate and latency of `send` from `clients` threads for `seconds`; exits if one is not `ok`."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run() -> None:
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < deadline:
                started = time.monotonic()
                response = send(client)
                took = time.monotonic() - started
                with lock:
                    if response.status_code in ok:
                        latencies.append(took)
                    else:
                        failures.append(f"{response.status_code} {response.text[:300]}")

    started = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return Result(latencies, time.monotonic() - started)


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


def wrk_load(url: str, clients: int, seconds: float, lua: str = "") -> Load:
    """Drive `url` with wrk: `clients` connections for `seconds`. `lua` may define wrk's
    `request()` (e.g. a POST with a new body each time); any non-2xx/3xx answer or socket
    error ends the benchmark, since the rate of failed requests would mean nothing."""
    wrk = require_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", encoding="utf-8") as script:
        script.write(lua + _WRK_REPORT)
        script.flush()
        completed = subprocess.run(
            [wrk, "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
             "-s", script.name, url], capture_output=True, text=True, check=True)
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    if report["errors"] or report["status_errors"]:
        sys.exit(f"wrk: {report['status_errors']} failed answers, {report['errors']} socket errors on {url}\n"
                 f"{completed.stdout}")
    return Load(report["requests"] / (report["duration_us"] / 1e6), report["p50_us"] / 1000, report["p99_us"] / 1000)


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
