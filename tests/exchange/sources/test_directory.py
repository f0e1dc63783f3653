"""The in-process adapter and the directory built from a sources file."""

from __future__ import annotations

import json
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest

from catalog.model import Catalog
from exchange.sources.contract import SourceProtocolError, SourceUnavailable, SubjectNotFound
from demo.data import sample_residents
from exchange.sources.directory import SourceQuery, SourcesConfigInvalid, build_sources
from exchange.sources.http_source import HttpSource, HttpSourceSettings
from exchange.sources.inprocess_source import InProcessSource
from tests.exchange.sources.stub_server import Reply, Script, stub_connector
from tests.exchange.sources.test_http_source import ANSWER, ID_NUMBER

TOKEN = "a-token-of-enough-length"


def test_in_process_by_default(demo_folder: Path, catalog: Catalog) -> None:
    resident = sample_residents(demo_folder, 1)[0]
    sources = build_sources(catalog, demo_folder)
    try:
        assert isinstance(sources.source("BDC"), InProcessSource)
        answer = sources.query("NO_HOUSING", resident.id_number, resident.name)
        assert answer.proof == "NO_HOUSING" and answer.as_of.utcoffset() is not None
        assert sources.query("HOUSEHOLD_REGISTRATION", resident.id_number).record["relation_to_head"] == "head"
        with pytest.raises(SubjectNotFound):
            sources.query("NO_HOUSING", resident.id_number, "另一个人")
        with pytest.raises(SubjectNotFound):
            sources.query("NO_HOUSING", "110101199003070011", None)
        with pytest.raises(ValueError, match="unknown proof"):
            sources.query("NO_SUCH_PROOF", resident.id_number)
    finally:
        sources.close()


def test_a_missing_database_is_unavailable_and_never_created(catalog: Catalog, tmp_path: Path) -> None:
    sources = build_sources(catalog, tmp_path)
    with pytest.raises(SourceUnavailable) as raised:
        sources.query("NO_HOUSING", "110101199003070011")
    assert raised.value.department == "BDC" and raised.value.retry_after_seconds > 0
    assert not list(tmp_path.iterdir())
    sources.close()


@pytest.mark.parametrize(("column", "value"), [("record", "{not json"), ("record", "[1, 2]"),
                                               ("as_of", "yesterday")])
def test_a_stored_record_that_is_not_the_contracts_breaks_it(demo_folder: Path, catalog: Catalog, tmp_path: Path,
                                                             column: str, value: str) -> None:
    """A department's database row holding no JSON object, or no time, is the department's fault,
    told as such (not an internal error of the exchange), and names neither value nor person."""
    import shutil
    import sqlite3

    from exchange.sources.contract import SourceProtocolError

    resident = sample_residents(demo_folder, 1)[0]
    database = tmp_path / "BDC.db"
    shutil.copyfile(demo_folder / "BDC.db", database)
    with sqlite3.connect(database) as connection:
        connection.execute(f"UPDATE records SET {column} = ? WHERE proof_code = 'NO_HOUSING' AND subject_id = ?",
                           (value, resident.id_number))
    source = InProcessSource("BDC", database, catalog)
    try:
        with pytest.raises(SourceProtocolError) as raised:
            source.query("NO_HOUSING", resident.id_number, resident.name)
    finally:
        source.close()
    assert raised.value.department == "BDC"
    assert value not in str(raised.value) and resident.id_number not in str(raised.value)


def test_a_sources_file_points_departments_elsewhere(demo_folder: Path, catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / "ga.db").write_bytes((demo_folder / "GA.db").read_bytes())
    config = tmp_path / "sources.yaml"
    config.write_text(
        "departments:\n"
        f"  BDC: {{url: 'http://127.0.0.1:9101', token: {TOKEN}, timeout_seconds: 2, retries: 1}}\n"
        "  GA: {database: ga.db}\n",
        encoding="utf-8",
    )
    sources = build_sources(catalog, tmp_path / "elsewhere", config)
    try:
        bdc = sources.source("BDC")
        assert isinstance(bdc, HttpSource)
        assert bdc.settings == HttpSourceSettings(url="http://127.0.0.1:9101", token=TOKEN, timeout_seconds=2, retries=1)
        assert TOKEN not in repr(bdc.settings)
        resident = sample_residents(demo_folder, 1)[0]
        assert sources.query("HOUSEHOLD_REGISTRATION", resident.id_number).record["full_name"] == resident.name
        with pytest.raises(SourceUnavailable):
            sources.query("MARITAL_STATUS", resident.id_number)  # MZ stays in-process, under the folder given
    finally:
        sources.close()


def test_a_batch_asks_the_sources_over_the_network_at_the_same_time(demo_folder: Path, catalog: Catalog,
                                                                      tmp_path: Path) -> None:
    """The connector answers none of the three queries before all three have arrived: asked one
    after another, the first would run out of its 2 s budget. The in-process records are read
    meanwhile; each answer or error comes back in its query's place."""
    together = threading.Barrier(3, timeout=10)
    resident = sample_residents(demo_folder, 1)[0]
    with stub_connector(Script([Reply(body=ANSWER, meet=together)])) as url:
        config = tmp_path / "sources.json"
        config.write_text(json.dumps({"departments": {"BDC": {"url": url, "token": TOKEN, "timeout_seconds": 2,
                                                               "retries": 0}}}), encoding="utf-8")
        sources = build_sources(catalog, demo_folder, config)
        try:
            answers = sources.query_all([
                SourceQuery("NO_HOUSING", ID_NUMBER, "马强"),
                SourceQuery("HOUSEHOLD_REGISTRATION", resident.id_number),
                SourceQuery("NO_HOUSING", ID_NUMBER, "马强"),
                SourceQuery("HOUSEHOLD_REGISTRATION", "110101199003070011"),
                SourceQuery("NO_HOUSING", ID_NUMBER, "马强"),
            ])
        finally:
            sources.close()
    assert [type(answer).__name__ for answer in answers] == [
        "SourceAnswer", "SourceAnswer", "SourceAnswer", "SubjectNotFound", "SourceAnswer"]
    assert [answers[index].record["full_name"] for index in (0, 1, 2, 4)] == [  # type: ignore[union-attr]
        "马强", resident.name, "马强", "马强"]
    assert not together.broken


def test_a_large_batch_is_asked_in_one_wave(catalog: Catalog, tmp_path: Path) -> None:
    """A household of a dozen asks twelve questions over the network: all at once, so the batch
    takes one query's budget at most, not one per wave of threads (two 40 s waves would outlive
    the worker's 60 s and have it killed mid-request)."""
    together = threading.Barrier(12, timeout=10)
    with stub_connector(Script([Reply(body=ANSWER, meet=together)])) as url:
        config = tmp_path / "sources.json"
        config.write_text(json.dumps({"departments": {"BDC": {"url": url, "token": TOKEN, "timeout_seconds": 5,
                                                               "retries": 0}}}), encoding="utf-8")
        sources = build_sources(catalog, tmp_path / "elsewhere", config)
        try:
            answers = sources.query_all([SourceQuery("NO_HOUSING", ID_NUMBER, "马强")] * 12)
        finally:
            sources.close()
    assert [type(answer).__name__ for answer in answers] == ["SourceAnswer"] * 12
    assert not together.broken


def _government_ca_server_context(folder: Path, *, expired: bool = False,
                                  address: str = "127.0.0.1") -> tuple[ssl.SSLContext, Path]:
    """A server context whose certificate a private CA (not a public one) issued for `address`
    (expired an hour ago if `expired`), and that CA's certificate as a PEM file."""
    import ipaddress
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "金华市政务网络 CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bdc")]))
              .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
              .not_valid_before(now - timedelta(days=2))
              .not_valid_after(now - timedelta(hours=1) if expired else now + timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
                             critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem")
    return context, folder / "ca.pem"


def test_a_connector_under_the_citys_own_ca_is_reached_over_https(catalog: Catalog, tmp_path: Path) -> None:
    """Department systems on the government network carry certificates of a private CA: with its
    certificate named (`ca_file`, relative to the sources file) the connector is reached over
    HTTPS; without it, the operator is told the certificate is not trusted, not that the system
    cannot be reached — and nothing goes over the network in clear."""
    context, ca_file = _government_ca_server_context(tmp_path)
    with stub_connector(Script([Reply(body=ANSWER)]), tls=context) as url:
        assert url.startswith("https://")
        for with_ca, name in ((True, "trusted.json"), (False, "untrusted.json")):
            entry = {"url": url, "token": TOKEN, "timeout_seconds": 2, "retries": 0,
                     **({"ca_file": ca_file.name} if with_ca else {})}
            (tmp_path / name).write_text(json.dumps({"departments": {"BDC": entry}}), encoding="utf-8")
        trusted = build_sources(catalog, tmp_path / "elsewhere", tmp_path / "trusted.json")
        untrusted = build_sources(catalog, tmp_path / "elsewhere", tmp_path / "untrusted.json")
        try:
            assert trusted.query("NO_HOUSING", ID_NUMBER, "马强").record["full_name"] == "马强"
            with pytest.raises(SourceUnavailable, match="TLS certificate is not trusted"):
                untrusted.query("NO_HOUSING", ID_NUMBER, "马强")
        finally:
            trusted.close()
            untrusted.close()


@pytest.mark.parametrize(("variant", "told"), [({"expired": True}, "certificate has expired"),
                                              ({"address": "127.0.0.2"}, "mismatch")])
def test_a_certificate_refused_for_another_reason_than_its_ca_says_so(catalog: Catalog, tmp_path: Path,
                                                                     variant: dict[str, Any], told: str) -> None:
    """The department's certificate expired, or names another host, its CA already in `ca_file`:
    the operator is told that, not to name a CA they named."""
    context, ca_file = _government_ca_server_context(tmp_path, **variant)
    with stub_connector(Script([Reply(body=ANSWER)]), tls=context) as url:
        entry = {"url": url, "token": TOKEN, "timeout_seconds": 2, "retries": 0, "ca_file": ca_file.name}
        (tmp_path / "sources.json").write_text(json.dumps({"departments": {"BDC": entry}}), encoding="utf-8")
        sources = build_sources(catalog, tmp_path / "elsewhere", tmp_path / "sources.json")
        try:
            with pytest.raises(SourceUnavailable) as refused:
                sources.query("NO_HOUSING", ID_NUMBER, "马强")
        finally:
            sources.close()
    assert told in str(refused.value) and "name its CA" not in str(refused.value), refused.value


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"departments": {"XX": {"database": "x.db"}}}, "XX: not a source department"),
        ({"departments": {"BDC": {"url": "http://127.0.0.1:1", "token": TOKEN, "ca_file": "ca.pem"}}},
         "BDC.ca_file: only for an https url"),
        ({"departments": {"BDC": {"url": "ftp://x", "token": TOKEN}}}, "BDC.url"),
        ({"departments": {"BDC": {"url": "http://127.0.0.1:1", "token": "short"}}}, "BDC.token"),
        ({"departments": {"BDC": {"url": "http://127.0.0.1:1", "token": TOKEN, "retries": 1.5}}}, "BDC.retries"),
        ({"departments": {"BDC": {"url": "http://127.0.0.1:1", "token": TOKEN, "colour": "red"}}}, "BDC.colour"),
        # a query longer than the server's worker timeout would be cut off with its worker
        ({"departments": {"BDC": {"url": "http://127.0.0.1:1", "token": TOKEN, "timeout_seconds": 120}}},
         "BDC.timeout_seconds"),
        ({"departments": {"BDC": {"url": "http://127.0.0.1:1", "token": TOKEN, "read_timeout_seconds": 90}}},
         "BDC.read_timeout_seconds"),
        ({"departments": {"BDC": {}}}, "BDC.database"),
        ({"departments": {"BDC": {"database": "nowhere.db"}}}, "BDC.database: no such file"),
        ({"sources": {}}, "single key 'departments'"),
    ],
)
def test_a_bad_sources_file_is_refused_with_its_problems(catalog: Catalog, tmp_path: Path, document: object,
                                                         message: str) -> None:
    config = tmp_path / "sources.json"
    config.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(SourcesConfigInvalid, match=message.replace(".", r"\.")) as raised:
        build_sources(catalog, tmp_path, config)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_department_listed_twice_is_refused(catalog: Catalog, tmp_path: Path, suffix: str) -> None:
    """Which of two entries counts would be the parser's choice (the last, silently): refused."""
    (tmp_path / "bdc.db").write_bytes(b"")
    config = tmp_path / f"sources{suffix}"
    config.write_text('{"departments": {"BDC": {"url": "http://127.0.0.1:1", "token": "%s"}, '
                      '"BDC": {"database": "bdc.db"}}}' % TOKEN, encoding="utf-8")
    with pytest.raises(SourcesConfigInvalid, match="BDC.*more than once") as raised:
        build_sources(catalog, tmp_path, config)
    assert TOKEN not in str(raised.value)


def test_an_unreadable_sources_file_is_refused(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(SourcesConfigInvalid, match="cannot be read"):
        build_sources(catalog, tmp_path, tmp_path / "missing.yaml")


def test_a_sources_file_that_is_not_yaml_is_refused_without_quoting_its_lines(catalog: Catalog,
                                                                             tmp_path: Path) -> None:
    """The YAML parser's message quotes the line it stopped at; the refusal, which reaches the
    logs, names the line and column only: the line may hold a connector's token."""
    config = tmp_path / "sources.yaml"
    config.write_text(f'departments:\n  BDC:\n    url: http://127.0.0.1:1\n    token: "{TOKEN}\n', encoding="utf-8")
    with pytest.raises(SourcesConfigInvalid, match="cannot be read: .*line 4") as raised:
        build_sources(catalog, tmp_path, config)
    assert TOKEN not in str(raised.value) and TOKEN[:8] not in str(raised.value)


def test_a_source_breaking_its_contract_is_in_the_operators_log(catalog: Catalog, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """The department asking is told the source's answer was faulty; the operator, who must call
    the source's people, reads in the exchange's log which source and why, without the number asked."""
    wrong = {**ANSWER, "record": {**ANSWER["record"], "property_count": "0"}}
    with stub_connector(Script([Reply(body=wrong)])) as url:
        config = tmp_path / "sources.json"
        config.write_text(json.dumps({"departments": {"BDC": {"url": url, "token": TOKEN, "retries": 0}}}),
                          encoding="utf-8")
        sources = build_sources(catalog, tmp_path / "elsewhere", config)
        try:
            with caplog.at_level("WARNING", logger="exchange.sources.directory"), pytest.raises(SourceProtocolError):
                sources.query("NO_HOUSING", ID_NUMBER, "马强")
        finally:
            sources.close()
    [logged] = [r.getMessage() for r in caplog.records if r.name == "exchange.sources.directory"]
    assert "BDC" in logged and "property_count" in logged and ID_NUMBER not in logged
