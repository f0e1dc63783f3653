"""The offline QR payload (EU Digital COVID Certificate pattern):

    "MZ1:" + Base45( zlib( COSE_Sign1( CBOR map of the essential content ) ) )

- COSE_Sign1 (RFC 9052, CBOR tag 18): protected header {1 (alg): -7 (ES256), 4 (kid): the seal's
  kid as 32 raw bytes (the SHA-256 certificate thumbprint; base64url of it is our kid)}, empty
  unprotected header, the payload, and the raw r||s ECDSA signature (low-S, `seals.ecdsa_raw`) over the Sig_structure
  ["Signature1", protected, b"", payload]. A verifier refuses anything unsigned that could change
  the meaning: a non-empty unprotected header, data after the zlib stream, the high-S twin. The seal certificate is not embedded: a verifier
  resolves the kid through its trust store (exported JWKS / seals/<kid>.pem), which keeps the
  code small enough to scan from paper.
- Built with cbor2 and cryptography rather than pycose: the structure is four fields and one
  signature, our `Signer` interface (key file or HSM) signs bytes and cannot be handed to
  pycose as a key, and pycose pulls in the pure-Python `ecdsa` package. Tests check the result
  against pycose.
- "MZ1:" names the format version; a new payload layout gets a new prefix.

Payload keys (`KEYS`): 1 identifier, 2 proof code, 3 proof name, 4 holder name, 5 masked ID
number, 6 binding salt (bstr), 7 binding digest (bstr, SHA-256), 8 issuer department code,
9 issuer legal name, 10 issued_at, 11 valid_from, 12 valid_until, 13 as_of (times as integer
seconds since the epoch; 12 and 13 absent when not set), 14 purpose, 15 status list URL,
16 status list index, 17 the printed data items as {name: raw value}. The issuer's USCC is
read from the identifier. Labels, display texts and the result sentence are left out: a
verifier shows the values by name (and has the catalog for labels if it wants them).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from exchange.certificates.identifiers import parse_identifier
from exchange.certificates.model import (
    facts_document,
    CertificateContent,
    HolderBinding,
    InvalidContent,
    Issuer,
    StatusEntry,
    check_identifier,
)
from exchange.certificates.verdict import SignedForm
from core.base64url import b64url_decode, b64url_encode
from seals.checks import SIGNING_TIME_CLAIMED, certificate_checks, integrity_only, key_matches_algorithm, summarise_signer
from seals.ecdsa_raw import der_signature, raw_signature
from seals.keys import Signer
from seals.trust import TrustStore
from seals.verdict import Check, CheckResult, Status, Verdict

PREFIX = "MZ1:"
COSE_SIGN1_TAG = 18
COSE_ALG, COSE_KID, COSE_ES256 = 1, 4, -7
MAX_PAYLOAD_BYTES = 8192
"""Upper bound on the decompressed COSE message (a zlib bomb stops here)."""

KEYS = {
    "identifier": 1,
    "proof_code": 2,
    "proof_name_zh": 3,
    "holder_name": 4,
    "holder_id_masked": 5,
    "binding_salt": 6,
    "binding_digest": 7,
    "department_code": 8,
    "issuer_name_zh": 9,
    "issued_at": 10,
    "valid_from": 11,
    "valid_until": 12,
    "as_of": 13,
    "purpose": 14,
    "status_list_url": 15,
    "status_index": 16,
    "values": 17,
}
_K = KEYS


@dataclass(frozen=True)
class QrContent:
    """The essentials a QR carries; `to_dict` is a subset of `CertificateContent.to_dict`."""

    identifier: str
    proof_code: str
    proof_name_zh: str
    holder_name: str
    holder_id_masked: str
    holder_binding: HolderBinding
    issuer: Issuer
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime | None
    as_of: datetime | None
    purpose: str
    status: StatusEntry
    values: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, content: CertificateContent) -> QrContent:
        return cls(
            content.identifier,
            content.proof_code,
            content.proof_name_zh,
            content.holder_name,
            content.holder_id_masked,
            content.holder_binding,
            content.issuer,
            content.issued_at,
            content.valid_from,
            content.valid_until,
            content.as_of,
            content.purpose,
            content.status,
            tuple((field.name, field.value) for field in content.fields),
        )

    def to_cbor_map(self) -> dict[int, Any]:
        payload: dict[int, Any] = {
            _K["identifier"]: self.identifier,
            _K["proof_code"]: self.proof_code,
            _K["proof_name_zh"]: self.proof_name_zh,
            _K["holder_name"]: self.holder_name,
            _K["holder_id_masked"]: self.holder_id_masked,
            _K["binding_salt"]: self.holder_binding.salt,
            _K["binding_digest"]: self.holder_binding.digest,
            _K["department_code"]: self.issuer.department_code,
            _K["issuer_name_zh"]: self.issuer.name_zh,
            _K["issued_at"]: int(self.issued_at.timestamp()),
            _K["valid_from"]: int(self.valid_from.timestamp()),
            _K["purpose"]: self.purpose,
            _K["status_list_url"]: self.status.list_url,
            _K["status_index"]: self.status.index,
            _K["values"]: dict(self.values),
        }
        if self.valid_until is not None:
            payload[_K["valid_until"]] = int(self.valid_until.timestamp())
        if self.as_of is not None:
            payload[_K["as_of"]] = int(self.as_of.timestamp())
        return payload

    @classmethod
    def from_cbor_map(cls, payload: Any) -> QrContent:
        try:
            identifier = _typed(payload[_K["identifier"]], str)
            proof_code = _typed(payload[_K["proof_code"]], str)
            uscc = parse_identifier(identifier).issuer_uscc
            content = cls(
                identifier=identifier,
                proof_code=proof_code,
                proof_name_zh=_typed(payload[_K["proof_name_zh"]], str),
                holder_name=_typed(payload[_K["holder_name"]], str),
                holder_id_masked=_typed(payload[_K["holder_id_masked"]], str),
                holder_binding=HolderBinding(
                    _typed(payload[_K["binding_salt"]], bytes), _typed(payload[_K["binding_digest"]], bytes)
                ),
                issuer=Issuer(
                    _typed(payload[_K["department_code"]], str), _typed(payload[_K["issuer_name_zh"]], str), uscc
                ),
                issued_at=_time(payload[_K["issued_at"]]),
                valid_from=_time(payload[_K["valid_from"]]),
                valid_until=_optional_time(payload.get(_K["valid_until"])),
                as_of=_optional_time(payload.get(_K["as_of"])),
                purpose=_typed(payload[_K["purpose"]], str),
                status=StatusEntry(
                    _typed(payload[_K["status_list_url"]], str), _typed(payload[_K["status_index"]], int)
                ),
                values=tuple(_typed(payload[_K["values"]], Mapping).items()),
            )
        except Exception as error:  # untrusted input: any shape error becomes InvalidContent
            raise InvalidContent(f"QR payload is not a certificate ({type(error).__name__}: {error})") from None
        check_identifier(content.identifier, content.proof_code, content.issuer.uscc)
        return content

    def to_dict(self) -> dict[str, Any]:
        """The same keys as `CertificateContent.to_dict`, only those the QR carries."""
        return {**facts_document(self), "fields": [{"name": name, "value": value} for name, value in self.values]}


def encode_qr(content: CertificateContent, signer: Signer) -> str:
    """The signed QR payload of `content`."""
    protected = cbor2.dumps({COSE_ALG: COSE_ES256, COSE_KID: b64url_decode(signer.key_id)})
    payload = cbor2.dumps(QrContent.of(content).to_cbor_map())
    signature = raw_signature(signer.sign(_sig_structure(protected, payload)))
    message = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return PREFIX + base45.b45encode(zlib.compress(message, 9)).decode("ascii")


def verify_qr(text: str, trust: TrustStore, *, now: datetime) -> SignedForm:
    """Verify a QR payload against the trust store and read its content."""
    try:
        protected, header, payload, signature = _parse(text)
        content = QrContent.from_cbor_map(cbor2.loads(payload))
    except (ValueError, InvalidContent) as error:
        detail = str(error) if isinstance(error, InvalidContent) else f"QR payload: {error}"
        return SignedForm(integrity_only(CheckResult.of(Check.INTEGRITY, Status.INVALID, "malformed", detail=detail)), None)
    if header.get(COSE_ALG) != COSE_ES256:
        alg = header.get(COSE_ALG)
        return SignedForm(integrity_only(CheckResult.of(Check.INTEGRITY, Status.INVALID, "alg_not_allowed", alg=alg)), None)
    kid = header.get(COSE_KID)
    certificate = trust.seal_by_kid(b64url_encode(kid)) if isinstance(kid, bytes) else None
    if certificate is None:
        return SignedForm(integrity_only(CheckResult.of(Check.INTEGRITY, Status.INVALID, "certificate_missing")), content)
    key = certificate.public_key()
    if not key_matches_algorithm(key, "ES256") or not isinstance(key, ec.EllipticCurvePublicKey):
        integrity = CheckResult.of(Check.INTEGRITY, Status.INVALID, "key_alg_mismatch", alg="ES256")
    else:
        integrity = _check_signature(key, _sig_structure(protected, payload), signature)
    signing_time = content.issued_at
    verdict = Verdict(
        (
            integrity,
            *certificate_checks(
                certificate, trust, signing_time=signing_time, signing_time_source=SIGNING_TIME_CLAIMED, now=now
            ),
        ),
        signer=summarise_signer(certificate),
        signing_time=signing_time,
        signing_time_source=SIGNING_TIME_CLAIMED,
    )
    return SignedForm(verdict, content)


def _parse(text: str) -> tuple[bytes, Mapping[Any, Any], bytes, bytes]:
    """Split a payload into protected header bytes, decoded header, payload bytes and signature."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise ValueError(f"does not start with {PREFIX}")
    try:
        compressed = base45.b45decode(text[len(PREFIX) :])
        inflater = zlib.decompressobj()
        message = inflater.decompress(compressed, MAX_PAYLOAD_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("compressed data is truncated or too large")
        if inflater.unused_data:
            raise ValueError("data follows the compressed stream")
        cose = cbor2.loads(message)
    except (ValueError, zlib.error, cbor2.CBORDecodeError) as error:
        raise ValueError(f"cannot decode ({type(error).__name__})") from None
    if isinstance(cose, cbor2.CBORTag):
        if cose.tag != COSE_SIGN1_TAG:
            raise ValueError("not a COSE_Sign1 message")
        cose = cose.value
    if not (isinstance(cose, (list, tuple)) and len(cose) == 4 and isinstance(cose[0], bytes) and isinstance(cose[2], bytes)):
        raise ValueError("not a COSE_Sign1 structure")
    protected, unprotected, payload, signature = cose
    if unprotected != {}:
        raise ValueError("the unprotected header must be empty")
    try:
        header = cbor2.loads(protected) if protected else {}
    except cbor2.CBORDecodeError:
        raise ValueError("protected header is not CBOR") from None
    if not isinstance(header, Mapping) or not isinstance(signature, bytes):
        raise ValueError("not a COSE_Sign1 structure")
    return protected, header, payload, signature


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _check_signature(key: ec.EllipticCurvePublicKey, signed: bytes, signature: bytes) -> CheckResult:
    der = der_signature(signature)
    if der is None:
        return CheckResult.of(Check.INTEGRITY, Status.INVALID, "signature_mismatch")
    try:
        key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return CheckResult.of(Check.INTEGRITY, Status.INVALID, "signature_mismatch")
    return CheckResult.of(Check.INTEGRITY, Status.VALID, "signature_valid")


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}")
    return value


def _time(value: Any) -> datetime:
    return datetime.fromtimestamp(_typed(value, int), timezone.utc)


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)
