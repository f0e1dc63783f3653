"""Throughput of e-certificate issuance and verification next to the raw stack, in one run.

    python scripts/bench/certificates_bench.py [--seconds 2]

Issuance: content + credential (JWS) only; content + credential + QR + PDF (render, attach,
PAdES sign). Verification per form (PDF, credential, QR), with a status list and an ID number,
so every check runs. Raw rates of the same run: ECDSA P-256 sign/verify (cryptography), one
reportlab A4 page with CJK text and the vector seal, pyHanko PAdES-B-B signing with a bare
SimpleSigner, and pyHanko's own validator on our signed PDF with the root trusted (the baseline
of PDF verification: verifying is compared with verifying, never with signing). Ratios are
ours / raw; the machines are noisy, so compare ratios.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from io import BytesIO

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from catalog.loading import bundled_catalog_path, load_catalog
from exchange.certificates.credential import sign_credential
from exchange.certificates.model import StatusEntry, build_content
from exchange.certificates.pdf import issue_pdf
from exchange.certificates.qr_payload import encode_qr
from exchange.certificates.status_list import StatusList, sign_status_list
from exchange.certificates.verify import verify_certificate
from seals import ca
from seals.keys import FileKeySigner
from seals.pades import BYTES_RESERVED_B_B
from seals.seal_image import SealText, draw_seal
from seals.trust import TrustStore

LIST_URL = "http://127.0.0.1/status/1"
ID_NUMBER = "330702199003071233"
from timing import rate, seconds_per_measurement


def main() -> None:
    seconds = seconds_per_measurement(__doc__)

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

    def content():
        return build_content(
            proof=catalog.proofs["NO_HOUSING"],
            department=department,
            holder_name="张三",
            id_number=ID_NUMBER,
            data={"full_name": "张三", "has_registered_property": False, "property_count": 0, "search_no": "B-1"},
            purpose="申请公共租赁住房",
            serial=42,
            status=StatusEntry(LIST_URL, 7),
            issued_at=now,
            searched_at=now - timedelta(minutes=1),
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

    def verify(form: bytes | str) -> Callable[[], object]:
        return lambda: verify_certificate(form, trust, status_list, id_number=ID_NUMBER, now=later)

    message = credential.rsplit(".", 1)[0].encode()
    der = key.sign(message, ec.ECDSA(hashes.SHA256()))

    def raw_page() -> bytes:
        output = BytesIO()
        canvas = Canvas(output, pagesize=A4, invariant=1)
        canvas.setFont("Helvetica", 14)
        canvas.drawString(72, 760, "No-housing certificate (benchmark)")
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

    ecdsa_sign = rate(lambda: key.sign(message, ec.ECDSA(hashes.SHA256())), seconds)
    ecdsa_verify = rate(lambda: key.public_key().verify(der, message, ec.ECDSA(hashes.SHA256())), seconds)
    page_and_sign = rate(raw_page_and_sign, seconds)
    rows = [
        ("issue: credential only", rate(issue_credential, seconds), "ECDSA P-256 sign", ecdsa_sign),
        ("issue: credential+QR+PDF", rate(issue_everything, seconds), "reportlab page + pyHanko sign", page_and_sign),
        ("verify: PDF", rate(verify(pdf), seconds), "pyHanko validate, root trusted", rate(raw_pdf_validation, seconds)),
        ("verify: credential", rate(verify(credential), seconds), "ECDSA P-256 verify", ecdsa_verify),
        ("verify: QR", rate(verify(qr), seconds), "ECDSA P-256 verify", ecdsa_verify),
    ]
    print(f"{'operation (certificates)':<28}{'ops/s':>10}   {'raw stack':<32}{'ops/s':>10}{'ratio':>8}")
    for ours_name, ours, raw_name, raw in rows:
        print(f"{ours_name:<28}{ours:>10,.1f}   {raw_name:<32}{raw:>10,.1f}{ours / raw:>8.3f}")
    print(f"sizes: credential {len(credential)} B, QR payload {len(qr)} chars, signed PDF {len(pdf)} B")


if __name__ == "__main__":
    main()
