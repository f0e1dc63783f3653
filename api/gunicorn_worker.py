"""gunicorn's sync worker, answering the errors gunicorn produces itself as problem documents.

gunicorn parses the request before the app sees it, and answers what it refuses there (a
request line over its limit: 414; too many or too large headers: 431; a malformed request or
chunk: 400) or what fails outside the app (500) with a small HTML page of its own. It has no
hook for those pages: this worker replaces, in its own process, the function that writes them,
so an API client gets application/problem+json like every other error. A request still running
when gunicorn's timeout ends the worker gets 503 service-unavailable with Retry-After, not a
500: the service is overloaded or a source is stuck, the request itself may well be fine. Ctrl+C
lets the request in hand finish instead of cutting it off with a traceback. The detail is the
problem's title only: gunicorn's message may quote the request line, which can carry personal
data in its query string. For the same reason its error log keeps, of a request it refused,
why and from where, not the line or header it quotes (a query's ID number, a client's token),
and of a request that failed, the path without its query. An ID number a caller put in a path
(`/certificates/<an ID number>`) is masked in both logs (`MaskedLogger`, the server's
`logger_class`).
"""

from __future__ import annotations

import json
import logging
import socket

from gunicorn import util
from gunicorn.glogging import Logger
from gunicorn.workers.sync import SyncWorker

from api.problems import PROBLEM_MEDIA_TYPE, problem_type_for_status
from catalog.citizen_id import mask_id_numbers_in

WORKER_CLASS = f"{__name__}.ProblemWorker"
LOGGER_CLASS = f"{__name__}.MaskedLogger"


TIMED_OUT_RETRY_AFTER_SECONDS = 30


def write_problem(sock: socket.socket, status: int, reason: str, _message: str) -> None:
    """gunicorn's `util.write_error`, writing a problem document instead of an HTML page."""
    kind = problem_type_for_status(status)
    body = json.dumps({"type": kind.uri, "title": kind.title, "title_zh": kind.title_zh, "status": status,
                       "detail": reason}, ensure_ascii=False).encode("utf-8")
    retry = f"Retry-After: {TIMED_OUT_RETRY_AFTER_SECONDS}\r\n" if status == 503 else ""
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: {PROBLEM_MEDIA_TYPE}\r\n"
            f"{retry}Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class WithoutRequestText(logging.Filter):
    """gunicorn's error log without the text of the request it writes about (see the module)."""

    REFUSED = "Invalid request from ip="

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.REFUSED):
            address, _, reason = message[len(self.REFUSED):].partition(": ")
            record.msg, record.args = "%s%s: %s (its text is not logged)", (self.REFUSED, address,
                                                                              reason.split(":", 1)[0])
        elif record.msg == "Error handling request %s %s" and isinstance(record.args, tuple) and len(record.args) == 2:
            method, uri = record.args
            record.args = (method, _logged_path(str(uri)))
        elif record.msg == "Error handling request %s" and isinstance(record.args, tuple) and len(record.args) == 1:
            record.args = (_logged_path(str(record.args[0])),)
        return True


class MaskedLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, its access log writing a path with any ID number in it masked."""

    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = mask_id_numbers_in(atoms["U"])
        return atoms


def _logged_path(uri: str) -> str:
    """A request's path as the error log writes it: no query, any ID number in it masked."""
    return mask_id_numbers_in(uri.split("?", 1)[0])


class ProblemWorker(SyncWorker):  # type: ignore[misc]
    def init_process(self) -> None:
        util.write_error = write_problem
        self.log.error_log.addFilter(WithoutRequestText())
        super().init_process()

    def handle_quit(self, sig, frame):  # type: ignore[no-untyped-def]
        """Ctrl+C (SIGINT reaches the whole process group) or SIGQUIT: finish the request in hand,
        then exit, as SIGTERM does; gunicorn's own handler exits in the middle of writing it."""
        self.handle_exit(sig, frame)

    def handle_error(self, req, client, addr, exc):  # type: ignore[no-untyped-def]
        """A request cut off by the timeout (the arbiter's SIGABRT ends the worker with SystemExit)
        is answered 503 before the worker goes; every other error as gunicorn does."""
        if isinstance(exc, SystemExit) and not self.alive:
            self.log.warning("a request ran past the worker timeout; answered 503")
            write_problem(client, 503, "Service Unavailable", "")
            return
        super().handle_error(req, client, addr, exc)
