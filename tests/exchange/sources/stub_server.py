"""A scriptable HTTP server on 127.0.0.1 standing in for a misbehaving connector: each
request gets the next scripted reply (status, headers, body, delay before answering, a
barrier its request waits at first)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.live_server import SHUTDOWN_POLL_SECONDS


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    meet: threading.Barrier | None = None
    """Requests wait here for each other before answering (a broken barrier answers at once)."""
    trickle_seconds: float = 0.0
    """The body is sent a byte at a time, this long apart (a source that never stops answering)."""


@dataclass
class Script:
    replies: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def next_reply(self) -> Reply:
        return self.replies[min(len(self.requests) - 1, len(self.replies) - 1)]


class _Server(ThreadingHTTPServer):
    request_queue_size = 64
    """Connections waiting to be accepted: a batch asks a dozen at once (the default, 5, would
    leave some to the kernel's retry, past a query's connect timeout)."""


@contextmanager
def stub_connector(script: Script, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """The connector at the URL it yields; over HTTPS with `tls` (the server's context)."""
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            length = int(self.headers.get("Content-Length", 0))
            script.requests.append({"body": json.loads(self.rfile.read(length)),
                                    "authorization": self.headers.get("Authorization")})
            reply = script.next_reply()
            if reply.meet is not None:
                try:
                    reply.meet.wait()
                except threading.BrokenBarrierError:
                    pass
            time.sleep(reply.delay_seconds)
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not reply.trickle_seconds:
                    self.wfile.write(data)
                for byte in (data if reply.trickle_seconds else b""):
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(reply.trickle_seconds)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting

        def log_message(self, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
                              daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
