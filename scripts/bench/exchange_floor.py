"""The exchange's floor: the same reads, writes and cryptography as one signed, logged answer, done
by the raw stack alone (Flask + the DB-API driver + cryptography, under gunicorn) — what an
exchange answer costs before any of our code runs.

Per `POST /api/v1/exchange/requests` (the exchange's body and bearer token, as the bench's wrk
script sends them), the floor app:
1. parses the JSON body and looks the client up by the SHA-256 of its token;
2. in one durable transaction, as the writer (on SQLite a `flock` queue then `BEGIN IMMEDIATE`, as
   `core.sqlite_writer`; on PostgreSQL a transaction-level advisory lock): reads the subject's
   consent by its HMAC-SHA256 key, claims the request id (a unique row), reads the access log's
   head and appends the hash-chained entry — the write-ahead log before the source is asked;
3. reads the record from the source department's SQLite file (read-only, by primary key);
4. signs the answer (ES256 over the canonical JSON) and encrypts it for storage (AES-256-GCM);
5. stores the encrypted answer against the claimed request id in a second durable transaction.

What it leaves out is what our code adds on top: the catalog's sharing rules and field lists,
request validation with field-level problems, the JWS and receipt formats, the ORM, metrics and
request logging. Its rate divided by `/healthz`'s shows how far the raw stack alone is from the
trivial endpoint; ours divided by its shows how close the exchange is to that floor.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

FLOOR_APP = r'''
import fcntl, hashlib, hmac, json, os, sqlite3, uuid
from datetime import datetime, timezone

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, jsonify, request

app = Flask(__name__)
DATABASE = os.environ["FLOOR_DATABASE"]
POSTGRES = DATABASE.startswith("postgresql")
SUBJECT_KEY = bytes.fromhex(os.environ["FLOOR_SUBJECT_KEY"])
SIGNING_KEY = serialization.load_pem_private_key(open(os.environ["FLOOR_SIGNING_KEY"], "rb").read(), None)
SEALING = AESGCM(bytes.fromhex(os.environ["FLOOR_STORAGE_KEY"]))
_connections = {}


def database():
    if "db" not in _connections:
        if POSTGRES:
            import psycopg
            _connections["db"] = psycopg.connect(DATABASE)
        else:
            connection = sqlite3.connect(DATABASE, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            _connections["db"] = connection
    return _connections["db"]


def source():
    if "source" not in _connections:
        _connections["source"] = sqlite3.connect(f"file:{os.environ['FLOOR_SOURCE']}?mode=ro", uri=True)
    return _connections["source"]


class Writer:
    """One durable write transaction."""

    def __enter__(self):
        self.db = database()
        if POSTGRES:
            self.cursor = self.db.cursor()
            self.cursor.execute("SELECT pg_advisory_xact_lock(7)")
            return self
        self.lock = os.open(DATABASE + "-floor.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.cursor = self.db.cursor()
        self.cursor.execute("BEGIN IMMEDIATE")
        return self

    def run(self, statement, parameters=()):
        self.cursor.execute(statement.replace("?", "%s") if POSTGRES else statement, parameters)
        return self.cursor

    def __exit__(self, error, *_):
        try:
            if POSTGRES:
                (self.db.rollback if error else self.db.commit)()
            else:
                self.cursor.execute("ROLLBACK" if error else "COMMIT")
        finally:
            if not POSTGRES:
                os.close(self.lock)


@app.post("/api/v1/exchange/requests")
def exchange():
    body = request.get_json()
    token = request.headers["Authorization"].removeprefix("Bearer ")
    id_number = body["subject"]["id_number"]
    subject_key = hmac.new(SUBJECT_KEY, id_number.encode(), hashlib.sha256).hexdigest()
    at = datetime.now(timezone.utc).isoformat()
    with Writer() as tx:
        client = tx.run("SELECT client_id, department FROM floor_clients WHERE token_sha256 = ?",
                        (hashlib.sha256(token.encode()).hexdigest(),)).fetchone()
        consent = tx.run("SELECT id FROM floor_consents WHERE subject_key = ? AND matter = ? AND department = ?",
                         (subject_key, body["matter"], client[1])).fetchone()
        if consent is None:
            return jsonify(status=403), 403
        tx.run("INSERT INTO floor_requests (client_id, request_id, created_at) VALUES (?, ?, ?)",
               (client[0], body["request_id"], at))
        head = tx.run("SELECT seq, entry_hash FROM floor_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, previous = (head[0] + 1, head[1]) if head else (1, "0" * 64)
        entry = "|".join(map(str, (previous, seq, at, client[0], body["request_id"], body["case_number"],
                                   body["matter"], body["proof"], subject_key, consent[0], body["purpose"])))
        tx.run("INSERT INTO floor_log (seq, recorded_at, request_id, subject_key, prev_hash, entry_hash) "
               "VALUES (?, ?, ?, ?, ?, ?)",
               (seq, at, body["request_id"], subject_key, previous, hashlib.sha256(entry.encode()).hexdigest()))
    row = source().execute("SELECT record, as_of FROM records WHERE proof_code = ? AND subject_id = ?",
                           (body["proof"], id_number)).fetchone()
    answer = {"request_id": body["request_id"], "proof": body["proof"], "as_of": row[1], "data": json.loads(row[0])}
    signed = json.dumps(answer, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    signature = SIGNING_KEY.sign(signed, ec.ECDSA(hashes.SHA256()))
    document = {"answer": answer, "receipt": {"id": str(uuid.uuid4()), "signature": signature.hex()}}
    nonce = os.urandom(12)
    stored = nonce + SEALING.encrypt(nonce, json.dumps(document).encode(), body["request_id"].encode())
    with Writer() as tx:
        tx.run("UPDATE floor_requests SET answer = ? WHERE client_id = ? AND request_id = ?",
               (stored, client[0], body["request_id"]))
    return jsonify(document), 201
'''

TABLES = (
    "CREATE TABLE floor_clients (client_id VARCHAR(32) PRIMARY KEY, department VARCHAR(32), token_sha256 CHAR(64) UNIQUE)",
    "CREATE TABLE floor_consents (id VARCHAR(40) PRIMARY KEY, subject_key CHAR(64), matter VARCHAR(64), "
    "department VARCHAR(32))",
    "CREATE INDEX floor_consents_subject ON floor_consents (subject_key, matter, department)",
    "CREATE TABLE floor_requests (client_id VARCHAR(32), request_id VARCHAR(128), created_at VARCHAR(40), "
    "answer {blob}, PRIMARY KEY (client_id, request_id))",
    "CREATE TABLE floor_log (seq BIGINT PRIMARY KEY, recorded_at VARCHAR(40), request_id VARCHAR(128), "
    "subject_key CHAR(64), prev_hash CHAR(64), entry_hash CHAR(64))",
)


def prepare_floor(folder: Path, database_url: str, token: str, department: str, id_numbers: list[str], matter: str,
                  source: Path) -> dict[str, str]:
    """Write the floor app into `folder`, create its tables in the bench's database
    (`database_url`, SQLAlchemy form), register the client's token and the residents' consents;
    returns the environment the floor app is served with."""
    (folder / "floor_app.py").write_text(FLOOR_APP)
    subject_key = os.urandom(32)
    key_file = folder / "floor-signing.pem"
    key_file.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_file.chmod(0o600)
    postgres = database_url.startswith("postgresql")
    database = database_url.replace("postgresql+psycopg", "postgresql") if postgres else \
        database_url.removeprefix("sqlite:///")
    if postgres:
        import psycopg

        connection = psycopg.connect(database)
    else:
        connection = sqlite3.connect(database)
    marker = "%s" if postgres else "?"
    try:
        cursor = connection.cursor()
        for statement in TABLES:
            cursor.execute(statement.format(blob="BYTEA" if postgres else "BLOB"))
        cursor.execute(f"INSERT INTO floor_clients VALUES ({marker}, {marker}, {marker})",
                       ("floor-client", department, hashlib.sha256(token.encode()).hexdigest()))
        cursor.executemany(f"INSERT INTO floor_consents VALUES ({marker}, {marker}, {marker}, {marker})",
                           [(f"consent-{n}", hmac.new(subject_key, id_number.encode(), hashlib.sha256).hexdigest(),
                             matter, department) for n, id_number in enumerate(id_numbers)])
        connection.commit()
    finally:
        connection.close()
    return {"FLOOR_DATABASE": database, "FLOOR_SOURCE": str(source), "FLOOR_SUBJECT_KEY": subject_key.hex(),
            "FLOOR_SIGNING_KEY": str(key_file), "FLOOR_STORAGE_KEY": os.urandom(32).hex()}
