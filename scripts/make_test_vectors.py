"""Generate the e-certificate test vectors under tests/vectors/ (see tests/vectors/README.md).

A TEST-ONLY city PKI (root, the registry's (BDC) and the exchange's (SJ) seals, and a forger's
root with its own BDC seal) signs the vectors. Its private keys are never committed: it is
created in `--pki DIR` when that folder is empty (default: a new temporary folder, so each
regeneration makes a new test CA), and reused when DIR already holds one; only its
certificates reach tests/vectors/trust/. Every time is fixed, including the PAdES signing time (pyHanko takes it from
the system clock, so the PDF signing runs under a fixed clock). What still differs between
runs is random by design: ECDSA signature values and the holder-binding salts; the verdicts
do not. The script verifies every vector it writes against its expected verdict and fails
if one differs.

    .venv/bin/python scripts/make_test_vectors.py [--out tests/vectors] [--pki DIR]
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import sys
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from unittest import mock

import base45
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.signers import pdf_signer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchange.certificates.offline_trust import STATUS_LIST_FILE, export_offline_trust  # noqa: E402
from core.canonical import canonical_json  # noqa: E402
from catalog.loading import bundled_catalog_path, load_catalog  # noqa: E402
from catalog.model import Catalog  # noqa: E402
from exchange.certificates.credential import sign_credential  # noqa: E402
from exchange.certificates.model import CertificateContent, StatusEntry, build_content, format_time  # noqa: E402
from exchange.certificates.pdf import attach_credential, issue_pdf, render_pdf  # noqa: E402
from exchange.certificates.qr_payload import PREFIX as QR_PREFIX  # noqa: E402
from exchange.certificates.qr_payload import encode_qr  # noqa: E402
from exchange.certificates.status_list import StatusList, sign_status_list  # noqa: E402
from exchange.certificates.verify import verify_certificate  # noqa: E402
from seals import ca  # noqa: E402
from seals.keys import FileKeySigner  # noqa: E402
from seals.pades import sign_pdf  # noqa: E402
from seals.trust import TrustStore  # noqa: E402

CA_TIME = datetime(2025, 12, 1, tzinfo=timezone.utc)
ISSUED_AT = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # 09:00 Beijing time
NOW = ISSUED_AT + timedelta(days=1)
EXPIRED_ISSUED_AT = ISSUED_AT - timedelta(days=60)  # a 无房证明 is valid 30 days
SEAL_VALIDITY = timedelta(days=3650)
CRL_VALIDITY = timedelta(days=3650)
LIST_URL = "https://mianzheng.test/api/v1/status-lists/1"
CRL_URL = "https://mianzheng.test/api/v1/trust/crl"
HOLDER_NAME = "张三"
ID_NUMBER = "330702199003071233"
OTHER_ID_NUMBER = "330702199003071241"
REVOCATION_REASON = "data_changed"
FORM_FILES = {"pdf": "certificate.pdf", "credential": "certificate.jws", "qr": "certificate.qr.txt"}
TEST_ONLY_NOTE = (
    "TEST ONLY. These keys and certificates are published test material for tests/vectors/.\n"
    "They are not secret and must never be used by the service or trusted anywhere.\n"
)


@dataclass(frozen=True)
class Vector:
    name: str
    file: str
    form: str
    expected: tuple[str, str | None, str | None]
    """(overall status, a check that has that status, its code); check and code None when VALID."""
    id_number: str | None = None
    description: str = ""


class TestPki:
    """The fixed test PKI: loaded from `directory`, created there on the first run."""

    def __init__(self, directory: Path, catalog: Catalog) -> None:
        self.directory = directory
        self.catalog = catalog
        if not (directory / "root.pem").exists():
            self._create()
        self.root = self._certificate("root")
        self.other_root = self._certificate("other-root")

    def signer(self, name: str) -> FileKeySigner:
        """The seal `bdc`, `sj` or `other-bdc`, chained to its root."""
        root = self.other_root if name.startswith("other-") else self.root
        return FileKeySigner(self._key(name), (self._certificate(name), root))

    def trust(self) -> TrustStore:
        root = ca.CityCa(self.root, self._key("root"))
        crl = ca.build_crl(root, [], crl_number=1, validity=CRL_VALIDITY, now=CA_TIME)
        return TrustStore(self.root, (self._certificate("bdc"), self._certificate("sj")), crl)

    def _create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "TEST-ONLY.txt").write_text(TEST_ONLY_NOTE, encoding="utf-8")
        for root_name, common_name in (("root", "TEST ONLY 测试城市根证书"), ("other-root", "TEST ONLY 伪造者根证书")):
            city_ca = ca.create_root(common_name, "TEST ONLY 测试", now=CA_TIME)
            self._write(root_name, city_ca.certificate, city_ca.private_key)
            seals = ("bdc", "sj") if root_name == "root" else ("other-bdc",)
            for seal in seals:
                department = self.catalog.departments[seal.removeprefix("other-").upper()]
                key = ca.generate_key()
                certificate = ca.issue_seal_certificate(
                    city_ca, key.public_key(), department_name=department.legal_name_zh, uscc=department.uscc,
                    crl_url=CRL_URL, validity=SEAL_VALIDITY, now=CA_TIME)
                self._write(seal, certificate, key)

    def _write(self, name: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (self.directory / f"{name}.pem").write_bytes(certificate.public_bytes(Encoding.PEM))
        (self.directory / f"{name}.key.pem").write_bytes(key.private_bytes(
            Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    def _certificate(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.directory / f"{name}.pem").read_bytes())

    def _key(self, name: str) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key((self.directory / f"{name}.key.pem").read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


@contextmanager
def signing_clock(moment: datetime) -> Iterator[None]:
    """Run pyHanko's PDF signing with its clock fixed at `moment`."""

    class FixedClock(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)

    with mock.patch.object(pdf_signer, "datetime", FixedClock):
        yield


def no_housing(catalog: Catalog, serial: int, index: int, issued_at: datetime = ISSUED_AT) -> CertificateContent:
    searched_at = issued_at - timedelta(minutes=1)
    return build_content(
        proof=catalog.proofs["NO_HOUSING"], department=catalog.departments["BDC"], holder_name=HOLDER_NAME,
        id_number=ID_NUMBER,
        data={
            "full_name": HOLDER_NAME, "id_number": ID_NUMBER, "search_scope_region": "330700",
            "has_registered_property": False, "property_count": 0, "search_purpose": "申请公共租赁住房",
            "search_no": f"BDC-CX-2026-{serial:07d}", "searched_at": format_time(searched_at),
        },
        purpose="申请公共租赁住房", serial=serial, status=StatusEntry(LIST_URL, index), issued_at=issued_at,
        searched_at=searched_at)


def write_forms(folder: Path, content: CertificateContent, signer: FileKeySigner) -> tuple[str, str, bytes]:
    credential = sign_credential(content, signer)
    qr = encode_qr(content, signer)
    with signing_clock(content.issued_at):
        pdf = issue_pdf(content, credential, qr, signer)
    write(folder, credential, qr, pdf)
    return credential, qr, pdf


def write(folder: Path, credential: str, qr: str, pdf: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FORM_FILES["credential"]).write_text(credential + "\n", encoding="ascii")
    (folder / FORM_FILES["qr"]).write_text(qr + "\n", encoding="ascii")
    (folder / FORM_FILES["pdf"]).write_bytes(pdf)


def edited_credential(credential: str) -> str:
    header, payload, signature = credential.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["holder"]["name"] = "李四"
    return f"{header}.{base64.urlsafe_b64encode(canonical_json(claims)).rstrip(b'=').decode()}.{signature}"


def edited_qr(qr: str) -> str:
    protected, unprotected, payload, signature = cbor2.loads(zlib.decompress(base45.b45decode(qr[len(QR_PREFIX):]))).value
    content = dict(cbor2.loads(payload))
    content[4] = "李四"  # holder name
    message = cbor2.dumps(cbor2.CBORTag(18, [protected, dict(unprotected), cbor2.dumps(content), signature]))
    return QR_PREFIX + base45.b45encode(zlib.compress(message)).decode()


def per_form(case: str, expected: dict[str, tuple[str, str | None, str | None]], description: str,
             id_number: str | None = ID_NUMBER, folder: str | None = None) -> list[Vector]:
    return [Vector(f"{case}-{form}", f"{folder or case}/{file}", form, expected[form], id_number, description)
            for form, file in FORM_FILES.items()]


def same(expected: tuple[str, str | None, str | None]) -> dict[str, tuple[str, str | None, str | None]]:
    return dict.fromkeys(FORM_FILES, expected)


def generate(out: Path, pki_dir: Path) -> list[Vector]:
    catalog = load_catalog(bundled_catalog_path())
    pki = TestPki(pki_dir, catalog)
    bdc = pki.signer("bdc")
    indexes = {"valid": 1_001, "expired": 2_002, "revoked": 3_003, "other-root": 4_004, "edited": 5_005}

    for case in ("valid", "expired", "revoked", "other-root"):
        signer = pki.signer("other-bdc") if case == "other-root" else bdc
        issued_at = EXPIRED_ISSUED_AT if case == "expired" else ISSUED_AT
        write_forms(out / case, no_housing(catalog, indexes[case], indexes[case], issued_at), signer)

    original = no_housing(catalog, indexes["edited"], indexes["edited"])
    credential, qr, pdf = write_forms(out / "edited", original, bdc)
    serial = f"{indexes['edited']:010d}.01".encode()
    assert serial in pdf
    write(out / "edited", edited_credential(credential), edited_qr(qr),
          pdf.replace(serial, f"{indexes['edited'] + 1:010d}.01".encode(), 1))

    other = sign_credential(no_housing(catalog, 6_007, 6_007), bdc)
    with signing_clock(ISSUED_AT):
        (out / "attachment-swapped").mkdir(exist_ok=True)
        (out / "attachment-swapped" / "after-signing.pdf").write_bytes(attach_credential(pdf, other))
        (out / "attachment-swapped" / "before-signing.pdf").write_bytes(
            sign_pdf(attach_credential(render_pdf(original, qr), other), bdc))

    trust = out / "trust"
    shutil.rmtree(trust, ignore_errors=True)
    status_list = StatusList.empty(LIST_URL).revoke(indexes["revoked"], REVOCATION_REASON)
    export_offline_trust(trust, pki.trust(), [sign_status_list(status_list, pki.signer("sj"), now=NOW - timedelta(hours=1))],
                         catalog.departments["SJ"].uscc)

    valid = ("VALID", None, None)
    return [
        *per_form("valid", same(valid), "a 无房证明 as issued, verified with its holder's ID number"),
        *per_form("expired", same(("INVALID", "validity_window", "certificate_expired")),
                  "issued 60 days before `now`; a 无房证明 is valid 30 days"),
        *per_form("revoked", same(("INVALID", "certificate_status", "certificate_revoked")),
                  f"revoked ({REVOCATION_REASON}) in trust/{STATUS_LIST_FILE}"),
        *per_form("other-root", {"pdf": ("INVALID", "chain", "untrusted_root"),
                                 "credential": ("INVALID", "chain", "untrusted_root"),
                                 "qr": ("ERROR", "integrity", "seal_not_in_trust")},
                  "re-signed by a seal of the same name and USCC under another root (the QR names its seal by kid only)"),
        *per_form("edited", {"pdf": ("INVALID", "integrity", "digest_mismatch"),
                             "credential": ("INVALID", "integrity", "signature_mismatch"),
                             "qr": ("INVALID", "integrity", "signature_mismatch")},
                  "PDF: one byte of the serial changed; JWS and QR: the holder's name changed in the payload"),
        Vector("attachment-swapped-after-signing", "attachment-swapped/after-signing.pdf", "pdf",
               ("INVALID", "integrity", "modified_after_signing"), ID_NUMBER,
               "the edited vector's PDF with another certificate's credential attached after signing"),
        Vector("attachment-swapped-before-signing", "attachment-swapped/before-signing.pdf", "pdf",
               ("INVALID", "integrity", "credential_mismatch"), ID_NUMBER,
               "a page signed by the genuine seal carrying another certificate's credential"),
        *per_form("wrong-holder", same(("INVALID", "holder_binding", "holder_mismatch")),
                  "the valid vector verified with another person's ID number", OTHER_ID_NUMBER, folder="valid"),
    ]


def check(out: Path, vectors: list[Vector]) -> list[str]:
    """The vectors whose verdict differs from the expected one."""
    trust = TrustStore.load(out / "trust")
    status_list = (out / "trust" / STATUS_LIST_FILE).read_text(encoding="ascii").strip()
    problems = []
    for vector in vectors:
        verdict = verify_certificate((out / vector.file).read_bytes(), trust, status_list,
                                     id_number=vector.id_number, now=NOW)
        status, check_name, code = vector.expected
        named = [r for r in verdict.checks if r.check.value == check_name]
        got = (verdict.status.value, check_name, named[0].code if named and named[0].status.value == status else None)
        if verdict.form != vector.form or got != vector.expected:
            problems.append(f"{vector.name}: expected {vector.expected}, got {got} ({verdict.form})")
    return problems


def manifest(vectors: list[Vector]) -> dict[str, Any]:
    return {
        "note": "TEST ONLY: generated by scripts/make_test_vectors.py from a test PKI; see README.md",
        "now": format_time(NOW),
        "trust": "trust",
        "status_list": f"trust/{STATUS_LIST_FILE}",
        "vectors": [
            {"name": v.name, "file": v.file, "form": v.form, "id_number": v.id_number, "description": v.description,
             "expected": {"status": v.expected[0], "check": v.expected[1], "code": v.expected[2]}}
            for v in vectors
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests" / "vectors")
    parser.add_argument("--pki", type=Path, default=None, help="where the test PKI (with its keys) is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mianzheng-test-pki-") as scratch:
        vectors = generate(args.out, args.pki or Path(scratch))
        out = args.out
        problems = check(out, vectors)
    if problems:
        sys.exit("vectors do not give the expected verdicts:\n" + "\n".join(problems))
    (out / "manifest.json").write_text(json.dumps(manifest(vectors), ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")
    print(f"wrote {len(vectors)} vectors to {out}")


if __name__ == "__main__":
    main()
