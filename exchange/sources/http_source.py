"""The HTTP adapter: queries a department's connector over the connector REST API (httpx).

Per source: connect and read timeouts per attempt, a total time budget per query
(`timeout_seconds`, every attempt and wait included), bounded retries with exponential
backoff and jitter (tenacity) for connection errors, timeouts, 5xx and 429 only (never
another 4xx: the same query would get the same answer), honouring Retry-After, and a
circuit breaker (breaker.py) that counts every failed attempt. The query only reads, so
retrying it is safe. The breaker and the connection pool live in this object: build one
per source per process and reuse it.

Answers may come gzip-compressed (the only encoding asked for). They are inflated here, a piece
at a time up to `MAX_ANSWER_BYTES`, not by httpx, which inflates each piece it receives whole: a
200 kB answer that inflates to gigabytes is refused having taken no more than the limit.
"""

from __future__ import annotations

import logging
import math
import random
import ssl
import time
import zlib
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import Retrying, RetryCallState, retry_if_exception_type, stop_after_attempt, stop_before_delay

from catalog import bounded_json
from catalog.citizen_id import mask_id_numbers_in
from catalog.model import Catalog, Proof
from exchange.sources.breaker import CircuitBreaker, CircuitOpen
from exchange.sources.contract import (
    SourceAnswer,
    SourceProtocolError,
    SourceRejected,
    SourceUnavailable,
    SubjectNotFound,
    department_proof,
)
from exchange.sources.wire import QUERY_PATH, parse_answer, query_document

log = logging.getLogger(__name__)

_REJECTED_HINTS = {401: "check the token configured for this source", 403: "check the token configured for this source",
                   404: "check the connector URL configured for this source"}
"""What a department and the operator are told of a source's 4xx (its own reason is only logged)."""
_LOGGED_REASON_CHARS = 300

BACKOFF_MAX_SECONDS = 2.0
MAX_ANSWER_BYTES = 2 * 1024 * 1024
"""The largest answer read from a connector (decompressed): a record is a few KB."""
MAX_RETRY_AFTER_SECONDS = 3600
"""The longest wait a connector's Retry-After is taken for: a day-long or century-long one would
park applications and tell departments to wait as long."""


@dataclass(frozen=True)
class HttpSourceSettings:
    """How to reach one department's connector; see docs/connectors.md for each setting."""

    url: str
    token: str = field(repr=False)
    timeout_seconds: float = 5.0
    connect_timeout_seconds: float = 1.0
    read_timeout_seconds: float | None = None
    retries: int = 2
    backoff_seconds: float = 0.2
    breaker_failures: int = 5
    breaker_cooldown_seconds: float = 30.0
    ca_file: str | None = None
    """The CA certificates (PEM) an HTTPS connector's certificate is checked against, instead of
    the public ones: department systems on the government network carry a private CA's."""


class _Transient(Exception):
    """A failed attempt worth retrying."""

    def __init__(self, reason: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class HttpSource:
    """A `Source` behind a connector's URL."""

    waits_on_network = True

    def __init__(
        self,
        department: str,
        settings: HttpSourceSettings,
        catalog: Catalog,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.department = department
        self._clock = clock
        """What the time budget is measured with (seconds, monotonic)."""
        self.settings = settings
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_seconds)
        self._catalog = catalog
        self._client = httpx.Client(
            base_url=settings.url.rstrip("/"),
            headers={"Authorization": f"Bearer {settings.token}", "Accept": "application/json",
                     "Accept-Encoding": "gzip"},
            transport=transport,
            trust_env=False,
            verify=ssl.create_default_context(cafile=settings.ca_file) if settings.ca_file else True,
        )

    def query(self, proof_code: str, id_number: str, name: str | None) -> SourceAnswer:
        proof = department_proof(self._catalog, self.department, proof_code)
        body = query_document(proof, id_number, name)
        deadline = self._clock() + self.settings.timeout_seconds
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.retries + 1) | stop_before_delay(self.settings.timeout_seconds),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        try:
            response = retrying(self._attempt, body, deadline)
        except _Transient as failure:
            retry_after = failure.retry_after_seconds or self.settings.breaker_cooldown_seconds
            raise SourceUnavailable(self.department, failure.reason, max(1, math.ceil(retry_after))) from None
        return self._answer(proof, response, id_number)

    def close(self) -> None:
        self._client.close()

    def _attempt(self, body: dict[str, Any], deadline: float) -> _Reply:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise _Transient(f"no answer within {self.settings.timeout_seconds:g} s")
        try:
            self.breaker.admit()
        except CircuitOpen as open_:
            raise SourceUnavailable(self.department, "circuit breaker open", open_.retry_after_seconds) from None
        read = min(self.settings.read_timeout_seconds or remaining, remaining)
        connect = min(self.settings.connect_timeout_seconds, remaining)
        try:  # whatever an admitted attempt ends in is the breaker's success or failure, never neither
            with self._client.stream("POST", QUERY_PATH, json=body, timeout=httpx.Timeout(read, connect=connect)) as streamed:
                response = _Reply(streamed.status_code, streamed.reason_phrase, streamed.headers,
                                  self._read_within(streamed, deadline))
            if response.status_code < 500 and response.status_code != 429:
                self.breaker.record_success()
                return response
            failure = _Transient(f"answered {response.status_code}", _retry_after(response))
        except httpx.ConnectTimeout:
            failure = _Transient(f"cannot connect within {connect:g} s")
        except httpx.TimeoutException:
            failure = _Transient(f"no answer within {read:g} s")
        except httpx.TransportError as error:
            failure = _Transient(_unreachable(error))
        except _Transient as late:
            failure = late
        except BaseException:
            self.breaker.record_failure()
            raise
        self.breaker.record_failure()
        # the address is for the operator's log only: the reason reaches callers in 503 details
        log.warning("source %s at %s: attempt failed: %s", self.department, self.settings.url, failure.reason)
        raise failure

    def _read_within(self, streamed: httpx.Response, deadline: float) -> bytes:
        """The answer's body, inflated if gzip, read by the deadline (`_Transient` after it: a
        source that trickles its answer keeps no worker past the budget) and up to
        `MAX_ANSWER_BYTES` once inflated, counted as it inflates (SourceProtocolError beyond)."""
        encoding = streamed.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            raise SourceProtocolError(self.department, f"the answer's content encoding {encoding[:20]!r} was not asked for")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
        chunks: list[bytes] = []
        size = 0
        for raw in streamed.iter_raw():
            try:
                chunk = raw if inflater is None else inflater.decompress(raw, MAX_ANSWER_BYTES + 1 - size)
            except zlib.error:
                raise SourceProtocolError(self.department, "the answer's content encoding cannot be decoded") from None
            size += len(chunk)
            if size > MAX_ANSWER_BYTES or (inflater is not None and inflater.unconsumed_tail):
                raise SourceProtocolError(self.department, f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
            if chunks and self._clock() > deadline:  # the first part came within the read timeout
                raise _Transient(f"no answer within {self.settings.timeout_seconds:g} s")
            chunks.append(chunk)
        if inflater is not None and chunks and not inflater.eof:  # an empty body (a bare 503) is no stream
            raise SourceProtocolError(self.department, "the answer's content encoding cannot be decoded")
        return b"".join(chunks)

    def _wait(self, state: RetryCallState) -> float:
        backoff = self.settings.backoff_seconds
        exponential = min(backoff * 2 ** (state.attempt_number - 1), BACKOFF_MAX_SECONDS)
        jitter = backoff * random.random()
        failure = state.outcome.exception() if state.outcome else None
        asked = failure.retry_after_seconds if isinstance(failure, _Transient) else None
        return max(exponential + jitter, asked or 0.0)

    def _answer(self, proof: Proof, response: _Reply, asked: str) -> SourceAnswer:
        if response.status_code == 200:
            try:
                payload = response.json()
            except ValueError:
                raise SourceProtocolError(self.department, "the 200 answer is not JSON within the limits") from None
            return parse_answer(self.department, proof, payload, asked)
        problem = _problem(response)
        if response.status_code == 404 and str(problem.get("type", "")).endswith("/subject-not-found"):
            raise SubjectNotFound(self.department, proof.code)
        if 400 <= response.status_code < 500:
            # the source's reason may quote what it holds (the name on record, someone's number):
            # for the operator, masked, in this log; the department and the citizen get ours
            reason = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
            log.warning("source %s refused the query with %s: %s", self.department, response.status_code,
                        mask_id_numbers_in(reason[:_LOGGED_REASON_CHARS]))
            raise SourceRejected(self.department, response.status_code, _REJECTED_HINTS.get(
                response.status_code, "it considers the query invalid; its reason is in the exchange's log"))
        raise SourceProtocolError(self.department, f"unexpected status {response.status_code}")


@dataclass(frozen=True)
class _Reply:
    """A connector's answer, its body read whole (within the limits)."""

    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not, or is longer or deeper than JSON from a
        source may be (`bounded_json`)."""
        return bounded_json.loads(self.content)


def _problem(response: _Reply) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _unreachable(error: httpx.TransportError) -> str:
    """Why the connector could not be reached: a TLS certificate refused is named, not taken for a
    network outage; one no CA it knows issued, with the setting to fix (its CA in `ca_file`), one
    refused otherwise (expired, issued for another host) with OpenSSL's reason."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            if cause.verify_code in _ISSUER_UNKNOWN:
                return "the department's TLS certificate is not trusted (name its CA in ca_file of the sources file)"
            return f"the department's TLS certificate was refused: {cause.verify_message}"
        cause = cause.__cause__ or cause.__context__
    return f"cannot reach the department's system ({type(error).__name__})"


_ISSUER_UNKNOWN = frozenset({2, 18, 19, 20, 21, 27})
"""OpenSSL's verification errors of a certificate whose issuer is not trusted here: unable to get
the issuer's certificate (2), locally (20), to verify the leaf's signature (21), self-signed (18),
a self-signed certificate in the chain (19), certificate not trusted (27)."""


def trusted_ca_problem(ca_file: str) -> str | None:
    """Why `ca_file` cannot serve as the CA certificates of an HTTPS connector, or None."""
    try:
        ssl.create_default_context(cafile=ca_file)
    except FileNotFoundError:
        return "no such file"
    except (OSError, ssl.SSLError):
        return "not readable as PEM CA certificates"
    return None


def _retry_after(response: _Reply) -> float | None:
    """The answer's Retry-After in seconds, at most `MAX_RETRY_AFTER_SECONDS`; None unless it is
    ASCII digits (`"²".isdigit()` is true, and a header byte 0xB2 reads as that)."""
    value = response.headers.get("Retry-After", "")
    return float(min(int(value), MAX_RETRY_AFTER_SECONDS)) if value.isascii() and value.isdigit() else None

