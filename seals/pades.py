"""PAdES signing of PDFs with pyHanko, through our `Signer` interface.

PAdES-B-B by default; PAdES-B-T when a time-stamp authority URL is given (RFC 3161 over HTTP,
pyHanko's `HTTPTimeStamper`). The seal certificate and the root are embedded in the CMS.
The signature container gets a fixed reserved size, which spares pyHanko the dry-run signing
pass it otherwise makes to estimate the size (about 2x faster, see shared stack notes).
The signature is an approval signature in a new invisible field; the visible seal is part of
the page content drawn by the caller (see `seal_image`).

asn1crypto encodes a value built from Python objects anew each time an enclosing value reads
it, which made assembling the CMS (about 80% of signing) cost far more than the signature:
the signer's certificates, parsed, and its signing-certificate-v2 attribute, encoded, are
kept per certificate chain and thread (keyed by the chain's DER, so a new seal is a new key;
asn1crypto's lazy parsing is not safe to share between threads), and the
signed attributes are handed on parsed from their encoding. The CMS holds the same
attributes and certificates as pyHanko's own PAdES signer would write.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from typing import Any

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import attributes, fields, signers, timestamps
from pyhanko.sign.general import SigningError, as_signing_certificate_v2, simple_cms_attribute
from pyhanko_certvalidator.registry import SimpleCertificateStore

from seals.errors import SigningFailed
from seals.keys import Signer

BYTES_RESERVED_B_B = 8192
BYTES_RESERVED_B_T = 16384
"""Room for the CMS blob: B-B needs about 1.5 KB with an ECDSA chain; a time-stamp token brings
the TSA's certificates, so B-T gets more. Too small a value fails loudly at signing."""

DEFAULT_FIELD_NAME = "Seal"
DOCUMENT_LANGUAGE = "zh-CN"
"""The sealed documents' language (the catalog's `/Lang`), so a screen reader reads them in Chinese."""


def seal_label(signer_name_zh: str) -> str:
    """The signature field's name for people (`sign_pdf`'s `field_label`): whose seal it is."""
    return f"{signer_name_zh}电子印章"


CHAINS_KEPT = 256
"""Certificate chains whose CMS material is kept (one per seal in use and signing thread; a seal
renewed is a new chain)."""


@dataclass(frozen=True)
class _ChainMaterial:
    """What every signature by one certificate chain repeats: the certificates, parsed (asn1crypto
    keeps what it has read of them: names, serials), and the DER of the signing-certificate-v2
    attribute (RFC 5035) that names the first one."""

    certificates: tuple[asn1_x509.Certificate, ...]
    signing_certificate_attribute: bytes


def _chain_material(chain_der: tuple[bytes, ...]) -> _ChainMaterial:
    """The material of a chain for the calling thread (see `_thread_chain_material`)."""
    return _thread_chain_material(chain_der, threading.get_ident())


@lru_cache(maxsize=CHAINS_KEPT)
def _thread_chain_material(chain_der: tuple[bytes, ...], _thread: int) -> _ChainMaterial:
    """Kept per thread: asn1crypto parses lazily, writing into the objects as they are read, so a
    thread reading a chain another thread is still parsing would see half a certificate. A thread
    identifier reused after its thread ended has one user at a time again."""
    certificates = tuple(asn1_x509.Certificate.load(der) for der in chain_der)
    attribute = simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(certificates[0]))
    return _ChainMaterial(certificates, attribute.dump())


class _SigningCertificateAttribute(attributes.CMSAttributeProvider):
    attribute_type = "signing_certificate_v2"

    def __init__(self, der: bytes) -> None:
        self._der = der

    async def get_attribute(self, dry_run: bool = False) -> cms.CMSAttribute:
        return cms.CMSAttribute.load(self._der)


class _PadesSignedAttributes(attributes.SignedAttributeProviderSpec):
    """The signed attributes of a PAdES signature besides content type and message digest (which
    pyHanko adds): signing-certificate-v2 only, as pyHanko's CAdES spec gives for PAdES
    without CAdES extras (PAdES forbids the signing-time attribute)."""

    def __init__(self, signing_certificate_attribute: bytes) -> None:
        self._signing_certificate_attribute = signing_certificate_attribute

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str) -> list[attributes.CMSAttributeProvider]:
        return [_SigningCertificateAttribute(self._signing_certificate_attribute)]


class CmsSealSigner(signers.Signer):
    """A pyHanko `Signer` that delegates the raw signature to one of our `Signer`s (key file or HSM)."""

    def __init__(self, seal: Signer) -> None:
        if seal.algorithm != "ES256":
            raise SigningFailed(f"PDF signing supports ES256 seals, not {seal.algorithm}")
        material = _chain_material(tuple(c.public_bytes(Encoding.DER) for c in seal.certificate_chain))
        super().__init__(
            signing_cert=material.certificates[0],
            cert_registry=SimpleCertificateStore.from_certs(material.certificates[1:]),  # pyHanko adds the signer's
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        )
        self.signed_attr_prov_spec = _PadesSignedAttributes(material.signing_certificate_attribute)
        self._seal = seal

    async def signed_attrs(self, *args: Any, **kwargs: Any) -> cms.CMSAttributes:
        """pyHanko's signed attributes, parsed back from their DER, so that the signer info and the
        signed data enclose them without encoding them again."""
        built = await super().signed_attrs(*args, **kwargs)
        return cms.CMSAttributes.load(built.dump())

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if digest_algorithm != "sha256":
            raise SigningError(f"the seal signs with SHA-256, not {digest_algorithm}")
        return self._seal.sign(data)


def sign_pdf(
    pdf: bytes | IncrementalPdfFileWriter,
    signer: Signer,
    *,
    tsa_url: str | None = None,
    field_name: str = DEFAULT_FIELD_NAME,
    reason: str | None = None,
    location: str | None = None,
    field_label: str | None = None,
) -> bytes:
    """Return `pdf` with a PAdES signature by `signer` appended as an incremental update. `pdf`
    may be a writer that already holds changes of the caller's (an attachment, say): they are
    written in the signed update, which spares parsing and writing the file once more.
    `field_label` is the signature field's name for people (`/TU`: what a screen reader says)."""
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
    )
    timestamper = timestamps.HTTPTimeStamper(tsa_url) if tsa_url else None
    spec = fields.SigFieldSpec(field_name, readable_field_name=field_label) if field_label else None
    pdf_signer = signers.PdfSigner(metadata, signer=CmsSealSigner(signer), timestamper=timestamper, new_field_spec=spec)
    try:
        writer = pdf if isinstance(pdf, IncrementalPdfFileWriter) else IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        output = pdf_signer.sign_pdf(writer, bytes_reserved=BYTES_RESERVED_B_T if timestamper else BYTES_RESERVED_B_B)
    except (SigningError, PdfError, timestamps.TimestampRequestError) as error:
        raise SigningFailed(f"PDF signing failed: {error}") from error
    return output.getvalue()
