"""Throughput of e-certificate issuance and verification next to the raw stack, in one run.

    python scripts/bench/certificates_bench.py [--seconds 2] [--database-url URL] [--rows TEXT ...]

Issuance: content + credential (JWS) only; content + credential + QR + PDF (render, attach,
PAdES sign). Verification per form (PDF, credential, QR), with a status list and an ID number,
so every check runs: by the library (trust store and status list in hand) and by the service
function the API and pages call (`api.certificate_services.verify_form`: catalog, trust store
and status list read from a fresh installation's database, SQLite unless --database-url).
Raw rates of the same run: ECDSA P-256 sign/verify (cryptography); the same credentials
decoded by joserfc (a well-kept JOSE library: signature and registered claims only, no chain,
status or content), against ECDSA and against our verification, to show what a JWS read in
Python costs beside its ECDSA verification; one reportlab A4 page with
Chinese text in the same embedded TrueType font and the vector seal, signed by pyHanko
PAdES-B-B with a bare SimpleSigner (the baseline of issuance: rendering and signing compared
with rendering and signing); pyHanko's own validator on our signed PDF with the root trusted
(the baseline of PDF verification: verifying is compared with verifying, never with signing).
Ratios are ours / raw, the median of rounds measuring the two alternately
(`timing.paired_rates`); the machines are noisy, so compare ratios. The credential and QR rows
verify `DISTINCT` certificates in turn (each signed at its own second, with its own serial and
status entry), so nothing remembered about one document flatters the rate, as a verifier meets a
new certificate with each request.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import itertools
import shutil
import tempfile
from collections.abc import Callable
from datetime import timedelta
from io import BytesIO
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from api.app import create_app
from api.certificate_services import verify_form
from api.initialise import initialise
from api.runtime import db, runtime
from api.settings import Settings
from catalog.loading import bundled_catalog_path, load_catalog
from exchange.certificates.credential import sign_credential
from exchange.certificates.model import CertificateContent, StatusEntry, build_content
from exchange.certificates.pdf import issue_pdf
from exchange.certificates.qr_payload import encode_qr
from exchange.certificates.status_list import StatusList, sign_status_list
from exchange.certificates.verify import verify_certificate
from seals import ca
from seals.fonts import SONG_FONT_NAME, register_song_font
from seals.keys import FileKeySigner
from seals.pades import BYTES_RESERVED_B_B
from seals.registry import active_signer
from seals.seal_image import SealText, draw_seal
from seals.trust import TrustStore
from timing import paired_rates

LIST_URL = "http://127.0.0.1/status/1"
ID_NUMBER = "330702199003071233"
PUBLIC_URL = "http://127.0.0.1:8000"
DISTINCT = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each measurement")
    parser.add_argument("--database-url", default=None, help="for the service rows (default: SQLite)")
    parser.add_argument("--rows", nargs="+", metavar="TEXT",
                        help="only the rows whose name contains one of these (e.g. 'verify: credential')")
    args = parser.parse_args()
    seconds = args.seconds

    catalog = load_catalog(bundled_catalog_path())
    department = catalog.departments["BDC"]
    city_ca = ca.create_root()
    key = ca.generate_key()
    certificate = ca.issue_seal_certificate(
        city_ca,
        key.public_key(),
        department_name=department.legal_name_zh,
        uscc=department.uscc,
        crl_url="http://127.0.0.1/crl.der",
        validity=ca.ROOT_VALIDITY / 20,
    )
    signer = FileKeySigner(key, (certificate, city_ca.certificate))
    trust = TrustStore(city_ca.certificate, (certificate,), ca.build_crl(city_ca, [], crl_number=1, validity=timedelta(days=7)))
    now = ca.utc_now()
    status_list = sign_status_list(StatusList.empty(LIST_URL), signer, now=now)

    def content(list_url: str = LIST_URL, number: int = 0) -> CertificateContent:
        return build_content(
            proof=catalog.proofs["NO_HOUSING"],
            department=department,
            holder_name="张三",
            id_number=ID_NUMBER,
            data={"full_name": "张三", "search_scope_region": "330700", "has_registered_property": False,
                  "property_count": 0, "search_no": "B-1"},
            purpose="申请公共租赁住房",
            serial=42 + number,
            status=StatusEntry(list_url, 7 + number),
            issued_at=now - timedelta(seconds=number),
            searched_at=now - timedelta(minutes=1, seconds=number),
        )

    def issue_credential() -> str:
        return sign_credential(content(), signer)

    def issue_everything() -> bytes:
        issued = content()
        credential = sign_credential(issued, signer)
        return issue_pdf(issued, credential, encode_qr(issued, signer), signer)

    sample = content()
    credential = sign_credential(sample, signer)
    qr = encode_qr(sample, signer)
    pdf = issue_pdf(sample, credential, qr, signer)
    later = now + timedelta(minutes=5)

    def verify(*forms: bytes | str) -> Callable[[], object]:
        next_form = itertools.cycle(forms).__next__
        return lambda: verify_certificate(next_form(), trust, status_list, id_number=ID_NUMBER, now=later)

    distinct = [content(number=number) for number in range(DISTINCT)]

    message = credential.rsplit(".", 1)[0].encode()
    der = key.sign(message, ec.ECDSA(hashes.SHA256()))

    register_song_font()

    def raw_page() -> bytes:
        output = BytesIO()
        canvas = Canvas(output, pagesize=A4, invariant=1, initialFontName=SONG_FONT_NAME)
        canvas.setFont(SONG_FONT_NAME, 14)
        canvas.drawString(72, 760, "无房产证明（基准测试）：张三名下无登记的不动产。")
        draw_seal(canvas, 420, 600, 120, SealText(department.legal_name_zh))
        canvas.save()
        return output.getvalue()

    chain = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in signer.certificate_chain]
    bare = signers.SimpleSigner(
        signing_cert=chain[0],
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        ),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    metadata = signers.PdfSignatureMetadata(field_name="Seal", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES)

    def raw_page_and_sign() -> object:
        return signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(raw_page())), metadata, signer=bare, bytes_reserved=BYTES_RESERVED_B_B)

    def raw_pdf_validation() -> object:
        embedded = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
        context = ValidationContext(trust_roots=[chain[1]], allow_fetching=False)
        return asyncio.run(async_validate_pdf_signature(embedded, context))

    def ecdsa_sign() -> object:
        return key.sign(message, ec.ECDSA(hashes.SHA256()))

    def ecdsa_verify() -> object:
        return key.public_key().verify(der, message, ec.ECDSA(hashes.SHA256()))

    joserfc_key = ECKey.import_key(key.public_key())
    joserfc_registry = JWSRegistry(algorithms=["ES256"])
    joserfc_registry.max_header_length = 8192  # the header carries the seal's chain (x5c)
    distinct_credentials = [sign_credential(c, signer) for c in distinct]

    def joserfc_decode(tokens: list[str]) -> Callable[[], object]:
        next_token = itertools.cycle(tokens).__next__
        claims = joserfc_jwt.JWTClaimsRegistry(now=int(later.timestamp()))
        return lambda: claims.validate(joserfc_jwt.decode(next_token(), joserfc_key, registry=joserfc_registry).claims)

    def chosen(name: str) -> bool:
        return args.rows is None or any(part in name for part in args.rows)

    wants_service = chosen("service verify: PDF") or chosen("service verify: credential")
    service = _service_verifications(args.database_url, content) if wants_service else None
    rows = [
        ("issue: credential only", issue_credential, "ECDSA P-256 sign", ecdsa_sign),
        ("issue: credential+QR+PDF", issue_everything, "reportlab page + pyHanko sign", raw_page_and_sign),
        ("verify: PDF", verify(pdf), "pyHanko validate, root trusted", raw_pdf_validation),
        ("verify: credential", verify(*distinct_credentials), "ECDSA P-256 verify", ecdsa_verify),
        ("joserfc: JWT decode+claims", joserfc_decode(distinct_credentials), "ECDSA P-256 verify", ecdsa_verify),
        ("verify: credential (vs joserfc)", verify(*distinct_credentials), "joserfc JWT decode+claims",
         joserfc_decode(distinct_credentials)),
        ("verify: QR", verify(*(encode_qr(c, signer) for c in distinct)), "ECDSA P-256 verify", ecdsa_verify),
    ]
    if service is not None:
        rows += [
            ("service verify: PDF", service("pdf"), "pyHanko validate, root trusted", raw_pdf_validation),
            ("service verify: credential", service("credential"), "ECDSA P-256 verify", ecdsa_verify),
        ]
    print(f"{'operation (certificates)':<32}{'ops/s':>10}   {'raw stack':<32}{'ops/s':>10}{'ratio':>8}")
    for ours_name, ours, raw_name, raw in rows:
        if not chosen(ours_name):
            continue
        ours_rate, raw_rate, ratio = paired_rates(ours, raw, seconds)
        print(f"{ours_name:<32}{ours_rate:>10,.1f}   {raw_name:<32}{raw_rate:>10,.1f}{ratio:>8.3f}")
    print(f"sizes: credential {len(credential)} B, QR payload {len(qr)} chars, signed PDF {len(pdf)} B")


def _service_verifications(database_url: str | None,
                           content: Callable[[str, int], CertificateContent]) -> Callable[[str], Callable[[], object]]:
    """Verification through `verify_form` on a fresh installation (in a temporary folder, removed
    at exit), of credentials (`DISTINCT`, in turn) or a PDF sealed by its BDC seal, with status
    entries in its list 1, so the stored list is read and checked: `service("credential")` or
    `service("pdf")`."""
    folder = Path(tempfile.mkdtemp(prefix="mianzheng-bench-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    settings = Settings(var_dir=folder / "var", public_url=PUBLIC_URL,
                        database_url=database_url or f"sqlite:///{folder / 'bench.db'}")
    initialise(settings)
    app = create_app(settings)
    with app.app_context():
        signer = active_signer(db(), runtime().seal_settings, "BDC")
        db().rollback()
    issued = [content(f"{PUBLIC_URL}/api/v1/status-lists/1", number) for number in range(DISTINCT)]
    credentials = [sign_credential(one, signer) for one in issued]
    documents: dict[str, list[bytes | str]] = {
        "credential": list(credentials),
        "pdf": [issue_pdf(issued[0], credentials[0], encode_qr(issued[0], signer), signer)],
    }

    def service(form: str) -> Callable[[], object]:
        next_document = itertools.cycle(documents[form]).__next__

        def verify_once() -> object:
            with app.app_context():
                return verify_form(next_document(), ID_NUMBER)
        for _ in documents[form]:
            verdict = verify_once()
            if not verdict.valid:
                raise SystemExit(f"the service does not accept its own {form}: {verdict}")
        return verify_once
    return service


if __name__ == "__main__":
    main()
