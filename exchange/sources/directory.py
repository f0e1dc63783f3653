"""The directory of sources: one `Source` per source department, built from configuration.

By default every department reads its own records database in-process,
`<folder>/<DEPT>.db`. A sources file (JSON or YAML; the api passes its path, from
MIANZHENG_SOURCES_FILE) can point departments elsewhere:

    departments:
      BDC:                                  # over HTTP, to its connector
        url: http://127.0.0.1:9101
        token: a-long-shared-secret
        timeout_seconds: 5                  # total budget of one query, retries included
        retries: 2
      GA:
        database: /srv/ga/records.db        # in-process, another database (path or SQLAlchemy URL)

Every key of an HTTP source is a field of `HttpSourceSettings` (docs/connectors.md lists
them). Unknown departments and keys are errors. Build the directory once per process and
reuse it: it holds each source's circuit breaker and connections.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import marshmallow as ma
import yaml

from catalog.citizen_id import mask_free_text
from catalog.model import Catalog
from exchange.sources.contract import (Source, SourceAnswer, SourceError, SourceProtocolError, SourceRejected,
                                       SourceUnavailable, SubjectNotFound)
from exchange.sources.inprocess_source import InProcessSource
from exchange.sources.records import department_database

if TYPE_CHECKING:
    from exchange.sources.http_source import HttpSourceSettings


class SourcesConfigInvalid(ValueError):
    """The sources file cannot be used; the message names the file and every problem."""


log = logging.getLogger(__name__)

_LOGGED_REASON_CHARS = 300
"""How much of a source's broken answer's reason the log keeps."""

MAX_QUERY_SECONDS = 45
"""The longest a query to one source may take, every attempt and wait included: it must end well
within the served worker's timeout (60 s, `api.server`), leaving time to sign and store the
answer; a longer one would have the worker killed mid-request."""


class _HttpSchema(ma.Schema):
    url = ma.fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    token = ma.fields.String(required=True, validate=ma.validate.Length(min=16))
    timeout_seconds = ma.fields.Float(validate=ma.validate.Range(min=0.05, max=MAX_QUERY_SECONDS))
    connect_timeout_seconds = ma.fields.Float(validate=ma.validate.Range(min=0.01, max=MAX_QUERY_SECONDS))
    read_timeout_seconds = ma.fields.Float(validate=ma.validate.Range(min=0.01, max=MAX_QUERY_SECONDS))
    retries = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=0, max=10))
    backoff_seconds = ma.fields.Float(validate=ma.validate.Range(min=0, max=10))
    breaker_failures = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=1000))
    breaker_cooldown_seconds = ma.fields.Float(validate=ma.validate.Range(min=0.01, max=3600))
    ca_file = ma.fields.String(validate=ma.validate.Length(min=1))


class _InProcessSchema(ma.Schema):
    database = ma.fields.String(required=True, validate=ma.validate.Length(min=1))


SourceConfig: TypeAlias = "HttpSourceSettings | str"
"""An HTTP connector's settings, or the database (path or URL) of an in-process source. The HTTP
adapter (httpx, tenacity) is imported only where a department is reached over HTTP."""


def _unquoted(error: Exception) -> str:
    """The reason a sources file could not be read, without the text of its lines: the YAML
    parser quotes the line it stopped at, which may hold a connector's token."""
    if isinstance(error, yaml.MarkedYAMLError):
        where = [f"{what} at line {mark.line + 1}, column {mark.column + 1}"
                 for what, mark in ((error.context, error.context_mark), (error.problem, error.problem_mark))
                 if what and mark is not None]
        return "; ".join(where) or "not valid YAML"
    return "not valid YAML" if isinstance(error, yaml.YAMLError) else str(error)


def load_sources_file(path: Path, catalog: Catalog) -> dict[str, SourceConfig]:
    """The per-department configuration in the sources file at `path`; relative database
    paths are relative to the file's folder. SourcesConfigInvalid on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text, object_pairs_hook=_once_each) if path.suffix == ".json" \
            else yaml.load(text, Loader=_OnceEachLoader)  # a SafeLoader: no object of any other type
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise SourcesConfigInvalid(f"sources file {path}: cannot be read: {_unquoted(error)}") from None
    if not isinstance(document, dict) or set(document) != {"departments"} or not isinstance(document["departments"], dict):
        raise SourcesConfigInvalid(f"sources file {path}: must be a mapping with the single key 'departments'")
    problems: list[str] = []
    configs: dict[str, SourceConfig] = {}
    known = source_departments(catalog)
    for department, entry in document["departments"].items():
        if department not in known:
            problems.append(f"{department}: not a source department of the catalog")
            continue
        schema = _HttpSchema() if isinstance(entry, dict) and "url" in entry else _InProcessSchema()
        try:
            values: dict[str, Any] = schema.load(entry if isinstance(entry, dict) else {})
        except ma.ValidationError as invalid:
            problems += [f"{department}.{field}: {' '.join(map(str, messages))}" for field, messages in _flat(invalid.messages)]
            continue
        if "url" in values:
            from exchange.sources.http_source import HttpSourceSettings, trusted_ca_problem

            if "ca_file" in values and not values["url"].startswith("https://"):  # records would go in clear
                problems.append(f"{department}.ca_file: only for an https url (the records would go in clear)")
                continue
            if "ca_file" in values:  # relative to the sources file, as a database is
                values["ca_file"] = str((path.parent / values["ca_file"]).resolve())
                if problem := trusted_ca_problem(values["ca_file"]):
                    problems.append(f"{department}.ca_file: {problem}")
                    continue
            configs[department] = HttpSourceSettings(**values)
        else:
            configs[department] = _database(path, values["database"])
            if "://" not in configs[department] and not Path(configs[department]).is_file():
                problems.append(f"{department}.database: no such file")  # a typo would look like an outage for ever
    if problems:
        raise SourcesConfigInvalid(f"sources file {path}: " + "; ".join(problems))
    return configs


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are each given once (a department listed twice is refused, not the
    last entry taken)."""
    keys = [key for key, _ in pairs]
    if twice := sorted({key for key in keys if keys.count(key) > 1}):
        raise ValueError(f"{', '.join(twice)} given more than once")
    return dict(pairs)


class _OnceEachLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that gives a key more than once."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        if twice := sorted({str(key) for key in keys if keys.count(key) > 1}):
            raise yaml.constructor.ConstructorError(None, None, f"{', '.join(twice)} given more than once",
                                                    node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _flat(messages: Any) -> list[tuple[str, list[str]]]:
    if isinstance(messages, dict):
        return [(str(field), value if isinstance(value, list) else [str(value)]) for field, value in messages.items()]
    return [("entry", [str(messages)])]


def _database(config_file: Path, database: str) -> str:
    if "://" in database:
        return database
    return str((config_file.parent / database).resolve())


def source_departments(catalog: Catalog) -> tuple[str, ...]:
    """The departments that are the source of some proof, in catalog order."""
    holders = {proof.department for proof in catalog.proofs.values()}
    return tuple(code for code in catalog.departments if code in holders)


PullObserver = Callable[[str, str, Source], None]
"""Told (department, outcome, source) after each query: outcome is one of PULL_OUTCOMES' values,
"answered", or "error" for anything unexpected."""
PULL_OUTCOMES: dict[type[SourceError], str] = {
    SubjectNotFound: "not_found",
    SourceUnavailable: "unavailable",
    SourceRejected: "rejected",
    SourceProtocolError: "protocol_error",
}




@dataclass(frozen=True)
class SourceQuery:
    """One query of a batch: `SourceDirectory.query`'s arguments."""

    proof_code: str
    id_number: str
    name: str | None = None
    matter: str | None = None


class SourceDirectory:
    """The source of every source department; `query` routes a proof to its department."""

    def __init__(self, catalog: Catalog, sources: Mapping[str, Source], observer: PullObserver | None = None) -> None:
        self.catalog = catalog
        self.sources = dict(sources)
        self.observer = observer

    def source(self, department: str) -> Source:
        """KeyError if `department` is not a source department."""
        return self.sources[department]

    def query(self, proof_code: str, id_number: str, name: str | None = None, *,
              matter: str | None = None) -> SourceAnswer:
        """Ask the proof's source department; see `Source.query`. ValueError for an unknown proof.
        `matter`, the matter asking, is for directories that answer some proofs otherwise in some
        matters (the license library); the departments' sources do not need it."""
        proof = self.catalog.proofs.get(proof_code)
        if proof is None:
            raise ValueError(f"unknown proof {proof_code!r}")
        source = self.sources[proof.department]
        try:
            answer = source.query(proof_code, id_number, name)
        except Exception as error:
            if isinstance(error, SourceProtocolError):  # the operator calls the source's people: which, and why
                log.warning("source %s broke the connector contract: %s", proof.department,
                            mask_free_text(error.reason[:_LOGGED_REASON_CHARS]))
            if self.observer is not None:
                self.observer(proof.department, PULL_OUTCOMES.get(type(error), "error"), source)
            raise
        if self.observer is not None:
            self.observer(proof.department, "answered", source)
        return answer

    def query_all(self, queries: Sequence[SourceQuery]) -> list[SourceAnswer | SourceError]:
        """Each query's answer, or the `SourceError` it raised, in order (ValueError for an unknown
        proof). The queries whose source waits on the network are asked at the same time, one
        thread each (a thread waiting on a socket costs little), the others in line while those
        wait: a batch takes about as long as its slowest query, never one budget per wave of
        threads, so it ends within `MAX_QUERY_SECONDS` and the worker's timeout."""
        def ask(query: SourceQuery) -> SourceAnswer | SourceError:
            try:
                return self.query(query.proof_code, query.id_number, query.name, matter=query.matter)
            except SourceError as error:
                return error

        remote = [index for index, query in enumerate(queries) if self._waits_on_network(query.proof_code)]
        if len(remote) <= 1:
            return [ask(query) for query in queries]
        with ThreadPoolExecutor(max_workers=len(remote), thread_name_prefix="source-query") as pool:
            asked: dict[int, Future[SourceAnswer | SourceError]] = {index: pool.submit(ask, queries[index])
                                                                    for index in remote}
            local = {index: ask(query) for index, query in enumerate(queries) if index not in asked}
            return [asked[index].result() if index in asked else local[index] for index in range(len(queries))]

    def _waits_on_network(self, proof_code: str) -> bool:
        proof = self.catalog.proofs.get(proof_code)
        return proof is not None and self.sources[proof.department].waits_on_network

    def close(self) -> None:
        for source in self.sources.values():
            source.close()


def build_sources(catalog: Catalog, folder: Path, sources_file: Path | None = None,
                  observer: PullObserver | None = None) -> SourceDirectory:
    """A source for every source department: as the sources file says, else in-process
    from `folder/<DEPT>.db`."""
    configs = load_sources_file(sources_file, catalog) if sources_file is not None else {}
    sources: dict[str, Source] = {}
    for department in source_departments(catalog):
        config = configs.get(department, str(department_database(folder, department)))
        if isinstance(config, str):
            sources[department] = InProcessSource(department, config, catalog)
        else:
            from exchange.sources.http_source import HttpSource

            sources[department] = HttpSource(department, config, catalog)
    return SourceDirectory(catalog, sources, observer)
