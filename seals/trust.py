"""Trust material: the value a verifier needs, and its published forms (files, JWKS).

A `TrustStore` holds the city root, every seal certificate the CA issued (active and past, so
old signatures stay verifiable), the current CRL and, optionally, the roots of accepted
time-stamp authorities. `export` writes it to a directory that `load` reads back, for offline
verification:

    root.pem            the city root certificate
    seals/<kid>.pem     one file per seal certificate
    crl.der, crl.pem    the CRL (same content, two encodings)
    jwks.json           every seal's public key with kid, alg and x5c (not those revoked for compromise)
    tsa/<n>.pem         accepted time-stamp authority roots (only if any)
    exported-at.txt     the time up to which every certified seal is in seals/ (ISO 8601; only when
                        the exporter gave one)

The kid is the base64url SHA-256 thumbprint of the certificate DER (`ca.certificate_kid`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from core.base64url import b64url_encode
from seals.ca import certificate_kid, crl_entry_reason, x5c_entry


EXPORTED_AT_FILE = "exported-at.txt"


class ExportTimeUnreadable(ValueError):
    """`EXPORTED_AT_FILE` holds no time with its time zone."""


def _exported_at(path: Path) -> datetime:
    try:
        exported_at = datetime.fromisoformat(path.read_text(encoding="ascii").strip())
    except (UnicodeDecodeError, ValueError) as unreadable:
        raise ExportTimeUnreadable(f"{EXPORTED_AT_FILE}: {unreadable}") from None
    if exported_at.tzinfo is None:
        raise ExportTimeUnreadable(f"{EXPORTED_AT_FILE} gives no time zone")
    return exported_at


@dataclass(frozen=True)
class TrustStore:
    root: x509.Certificate
    seal_certificates: tuple[x509.Certificate, ...] = ()
    crl: x509.CertificateRevocationList | None = None
    timestamp_roots: tuple[x509.Certificate, ...] = ()
    exported: bool = False
    """Read from an exported directory (`load`): it holds the seals certified up to the export,
    so a seal it does not know may be one certified since (`checks.seal_not_found`)."""
    exported_at: datetime | None = None
    """When the seals were read for the export (`EXPORTED_AT_FILE`), None when not said: a seal it
    does not know was certified after this."""

    @cached_property
    def _by_kid(self) -> dict[str, x509.Certificate]:
        return {certificate_kid(certificate): certificate for certificate in self.seal_certificates}

    @cached_property
    def crl_is_authentic(self) -> bool:
        """Whether the CRL is issued and signed by the root (computed once per trust store)."""
        return (
            self.crl is not None
            and self.crl.issuer == self.root.subject
            and self.crl.is_signature_valid(self.root.public_key())
        )

    def seal_by_kid(self, kid: str) -> x509.Certificate | None:
        """The seal certificate whose thumbprint is `kid`, if the CA issued one."""
        return self._by_kid.get(kid)

    def jwks(self) -> dict[str, Any]:
        """A JWK Set (RFC 7517) with the public key, kid, alg and x5c chain of every seal but those
        the CRL revokes for key or CA compromise: a JOSE library taking keys by kid from the set
        must never find a stolen one (their certificates stay in `seals/` for the verifiers that
        read the CRL)."""
        return {"keys": [self._jwk(certificate) for certificate in self.seal_certificates
                         if not self._compromised(certificate)]}

    def _compromised(self, certificate: x509.Certificate) -> bool:
        """Whether the (authentic) CRL revokes `certificate` for key or CA compromise."""
        if self.crl is None or not self.crl_is_authentic:
            return False
        revoked = self.crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
        if revoked is None:
            return False
        return crl_entry_reason(revoked) in (x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise)

    def export(self, directory: Path, read_at: datetime | None = None) -> None:
        """Write the trust material to `directory` (created if needed; files are overwritten);
        `read_at`: a time before its seals were read, written as the time the export holds every
        seal certified up to."""
        seals_dir = directory / "seals"
        seals_dir.mkdir(parents=True, exist_ok=True)
        if read_at is not None:
            (directory / EXPORTED_AT_FILE).write_text(read_at.isoformat() + "\n", encoding="ascii")
        (directory / "root.pem").write_bytes(self.root.public_bytes(Encoding.PEM))
        for certificate in self.seal_certificates:
            (seals_dir / f"{certificate_kid(certificate)}.pem").write_bytes(certificate.public_bytes(Encoding.PEM))
        if self.crl is not None:
            (directory / "crl.der").write_bytes(self.crl.public_bytes(Encoding.DER))
            (directory / "crl.pem").write_bytes(self.crl.public_bytes(Encoding.PEM))
        (directory / "jwks.json").write_text(json.dumps(self.jwks(), ensure_ascii=False, indent=2), encoding="utf-8")
        if self.timestamp_roots:
            tsa_dir = directory / "tsa"
            tsa_dir.mkdir(exist_ok=True)
            for number, certificate in enumerate(self.timestamp_roots):
                (tsa_dir / f"{number}.pem").write_bytes(certificate.public_bytes(Encoding.PEM))

    @classmethod
    def load(cls, directory: Path) -> TrustStore:
        """Read a directory written by `export` (seals/, crl.der and tsa/ are optional)."""
        root = x509.load_pem_x509_certificate((directory / "root.pem").read_bytes())
        seals = tuple(
            x509.load_pem_x509_certificate(path.read_bytes()) for path in sorted((directory / "seals").glob("*.pem"))
        )
        crl_path = directory / "crl.der"
        crl = x509.load_der_x509_crl(crl_path.read_bytes()) if crl_path.exists() else None
        timestamp_roots = tuple(
            x509.load_pem_x509_certificate(path.read_bytes()) for path in sorted((directory / "tsa").glob("*.pem"))
        )
        exported_at_path = directory / EXPORTED_AT_FILE
        exported_at = _exported_at(exported_at_path) if exported_at_path.exists() else None
        return cls(root, seals, crl, timestamp_roots, exported=True, exported_at=exported_at)

    def _jwk(self, certificate: x509.Certificate) -> dict[str, Any]:
        public_key = certificate.public_key()
        jwk: dict[str, Any]
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            numbers = public_key.public_numbers()
            jwk = {
                "kty": "EC",
                "crv": "P-256",
                "x": _b64_int(numbers.x, 32),
                "y": _b64_int(numbers.y, 32),
                "alg": "ES256",
            }
        elif isinstance(public_key, rsa.RSAPublicKey):
            numbers = public_key.public_numbers()
            jwk = {"kty": "RSA", "n": _b64_int(numbers.n), "e": _b64_int(numbers.e), "alg": "PS256"}
        else:
            raise ValueError("only EC P-256 and RSA seal keys can be published as JWK")
        kid = certificate_kid(certificate)
        jwk.update(
            {
                "kid": kid,
                "use": "sig",
                "x5c": [x5c_entry(certificate), x5c_entry(self.root)],
                "x5t#S256": kid,
            }
        )
        return jwk


def _b64_int(value: int, length: int | None = None) -> str:
    return b64url_encode(value.to_bytes(length or (value.bit_length() + 7) // 8, "big"))
