"""Throughput of seal signing and verification next to the raw library rates, measured in one run.

    python scripts/bench/seals_bench.py [--seconds 2]

Rows: JWS sign/verify through seals/ against cryptography's ECDSA P-256 sign/verify of the same
signing input; PAdES sign/verify through seals/ against pyHanko signing with a bare
SimpleSigner (same reserved size) and pyHanko's own validator with the root trusted. The ratio
is ours / raw, the median of rounds measuring the two alternately (`timing.paired_rates`); the
machines are noisy, so compare ratios, not absolute figures.
"""

from __future__ import annotations

import asyncio
import time
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
from reportlab.pdfgen.canvas import Canvas

from seals import ca
from seals.jws import sign_jws
from seals.keys import FileKeySigner
from seals.pades import BYTES_RESERVED_B_B, sign_pdf
from seals.seal_image import SealText, draw_seal
from seals.trust import TrustStore
from seals.verify_jws import verify_jws
from seals.verify_pdf import verify_pdf
from timing import paired_rates, seconds_per_measurement


def main() -> None:
    seconds = seconds_per_measurement(__doc__)

    city_ca = ca.create_root()
    key = ca.generate_key()
    certificate = ca.issue_seal_certificate(
        city_ca,
        key.public_key(),
        department_name="金华市民政局",
        uscc="11330700002481234B",
        crl_url="http://127.0.0.1/crl.der",
        validity=ca.ROOT_VALIDITY / 20,
    )
    signer = FileKeySigner(key, (certificate, city_ca.certificate))
    crl = ca.build_crl(city_ca, [], crl_number=1, validity=ca.ROOT_VALIDITY / 1000)
    trust = TrustStore(city_ca.certificate, (certificate,), crl)

    claims = {"sub": "NO_HOUSING", "holder": "张三", "as_of": "2026-11-21", "iat": int(time.time())}
    token = sign_jws(claims, signer)
    signing_input = token.rsplit(".", 1)[0].encode()
    der_signature = key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    public_key = key.public_key()

    output = BytesIO()
    canvas = Canvas(output)
    canvas.setFont("Helvetica", 14)
    canvas.drawString(72, 760, "No-housing certificate (benchmark)")
    draw_seal(canvas, 420, 600, 120, SealText("金华市民政局"))
    canvas.save()
    pdf = output.getvalue()
    signed_pdf = sign_pdf(pdf, signer)

    chain = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in signer.certificate_chain]
    bare = signers.SimpleSigner(
        signing_cert=chain[0],
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    metadata = signers.PdfSignatureMetadata(
        field_name="Seal", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )

    def raw_pades_sign() -> object:
        return signers.sign_pdf(
            IncrementalPdfFileWriter(BytesIO(pdf)), metadata, signer=bare, bytes_reserved=BYTES_RESERVED_B_B
        )

    def raw_pades_verify() -> object:
        embedded = PdfFileReader(BytesIO(signed_pdf)).embedded_signatures[0]
        context = ValidationContext(trust_roots=[chain[1]], allow_fetching=False)
        return asyncio.run(async_validate_pdf_signature(embedded, context))

    def ecdsa_sign() -> object:
        return key.sign(signing_input, ec.ECDSA(hashes.SHA256()))

    def ecdsa_verify() -> object:
        return public_key.verify(der_signature, signing_input, ec.ECDSA(hashes.SHA256()))

    rows = [
        ("JWS sign (ES256)", lambda: sign_jws(claims, signer), "ECDSA P-256 sign", ecdsa_sign),
        ("JWS verify (verdict)", lambda: verify_jws(token, trust), "ECDSA P-256 verify", ecdsa_verify),
        ("PAdES-B-B sign", lambda: sign_pdf(pdf, signer), "pyHanko SimpleSigner sign", raw_pades_sign),
        ("PAdES verify (verdict)", lambda: verify_pdf(signed_pdf, trust), "pyHanko validate, root trusted",
         raw_pades_verify),
    ]
    print(f"{'operation (seals/)':<24}{'ops/s':>10}   {'raw library':<32}{'ops/s':>10}{'ratio':>8}")
    for ours_name, ours, raw_name, raw in rows:
        ours_rate, raw_rate, ratio = paired_rates(ours, raw, seconds)
        print(f"{ours_name:<24}{ours_rate:>10,.0f}   {raw_name:<32}{raw_rate:>10,.0f}{ratio:>8.2f}")

if __name__ == "__main__":
    main()
