"""The offline QR payload (EU Digital COVID Certificate pattern):

    "MZ2:" + Base45( zlib( COSE_Sign1( CBOR array of the essential content ) ) )

- COSE_Sign1 (RFC 9052, CBOR tag 18): protected header {1 (alg): -7 (ES256), 4 (kid): the first
  `KID_BYTES` bytes of the seal's kid (the SHA-256 certificate thumbprint; base64url of the whole
  is our kid)}, empty unprotected header, the payload, and the raw r||s ECDSA signature (low-S,
  `seals.ecdsa_raw`) over the Sig_structure ["Signature1", protected, b"", payload]. A verifier
  refuses anything unsigned that could change the meaning: a non-empty unprotected header, data
  after the zlib stream, the high-S twin. The seal certificate is not embedded: a verifier
  resolves the kid through its trust store (exported JWKS / seals/<kid>.pem); a kid prefix that
  names no seal, or more than one, is refused.
- Built with cbor2 and cryptography rather than pycose: the structure is four fields and one
  signature, our `Signer` interface (key file or HSM) signs bytes and cannot be handed to
  pycose as a key, and pycose pulls in the pure-Python `ecdsa` package. Tests check the result
  against pycose.
- The prefix names the format version; a new payload layout gets a new prefix, and verifiers
  keep reading the old ones (certificates already printed carry them).

Payload (`MZ2`, an array, so no key is spent per claim): type code (int), serial, version,
proof name, holder name, masked ID number, binding salt (bstr), binding digest (bstr, SHA-256),
issuer department code, issued_at, valid_from - issued_at (seconds), valid_until, as_of (null
when not set), purpose, status list URL, status list index, the printed data items as
{name: raw value}; times are integer seconds since the epoch. What the seal certificate
already says is not repeated: the issuer's legal name and USCC are read from the certificate
that verifies the signature (its O and organizationIdentifier, certified by the city root), and
the identifier is rebuilt from type code, USCC, serial and version (its check character
recomputed). So everything a verifier shows is covered by the signature or by the certificate
chain. Labels, display texts and the result sentence are left out: a verifier shows the values
by name (and has the catalog for labels if it wants them). See docs/certificates.md for what
this saves and why the rest stays.

`MZ1` (read only): the same COSE_Sign1 with the whole 32-byte kid and a CBOR map (`KEYS`)
carrying the identifier, proof code, issuer name and USCC as well.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from cryptography import x509
from cryptography.x509.oid import NameOID

from exchange.certificates.identifiers import PREFIX as IDENTIFIER_PREFIX
from exchange.certificates.identifiers import SERIAL_DIGITS, VERSION_DIGITS, check_character, parse_identifier
from exchange.certificates.model import (
    CertificateContent,
    CertificateFacts,
    HolderBinding,
    InvalidContent,
    Issuer,
    StatusEntry,
    check_identifier,
)
from exchange.certificates.verdict import SignedForm
from core.base64url import b64url_decode, b64url_encode
from seals.ca import USCC_PREFIX, certificate_kid
from seals.checks import (SIGNING_TIME_CLAIMED, certificate_checks, integrity_only, key_matches_algorithm, seal_not_found,
                          summarise_signer)
from seals.ecdsa_raw import der_signature, raw_signature
from seals.keys import Signer
from seals.trust import TrustStore
from seals.verdict import Check, CheckResult, Status, Verdict

PREFIX = "MZ2:"
LEGACY_PREFIX = "MZ1:"
PREFIXES = (PREFIX, LEGACY_PREFIX)
KID_BYTES = 8
"""How much of the seal's kid the QR names: enough to tell a city's seals apart."""
COSE_SIGN1_TAG = 18
COSE_ALG, COSE_KID, COSE_ES256 = 1, 4, -7
MAX_PAYLOAD_BYTES = 8192
"""Upper bound on the decompressed COSE message (a zlib bomb stops here)."""

KEYS = {  # MZ1
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


@dataclass(frozen=True, kw_only=True)
class QrContent(CertificateFacts):
    """The essentials a QR carries; `to_dict` is a subset of `CertificateContent.to_dict`."""

    values: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, content: CertificateContent) -> QrContent:
        return cls(**content.facts(), values=tuple((field.name, field.value) for field in content.fields))

    def to_compact(self) -> list[Any]:
        """The MZ2 payload array (see the module docstring)."""
        identifier = parse_identifier(self.identifier)
        return [
            int(identifier.type_code), identifier.serial, identifier.version,
            self.proof_name_zh, self.holder_name, self.holder_id_masked,
            self.holder_binding.salt, self.holder_binding.digest,
            self.issuer.department_code,
            int(self.issued_at.timestamp()), int((self.valid_from - self.issued_at).total_seconds()),
            None if self.valid_until is None else int(self.valid_until.timestamp()),
            None if self.as_of is None else int(self.as_of.timestamp()),
            self.purpose, self.status.list_url, self.status.index, dict(self.values),
        ]

    @classmethod
    def from_compact(cls, payload: Any, certificate: x509.Certificate) -> QrContent:
        """The content of an MZ2 payload whose signature `certificate` verifies."""
        try:
            (type_code, serial, version, proof_name, holder_name, holder_id_masked, salt, digest, department_code,
             issued_at, valid_from_offset, valid_until, as_of, purpose, list_url, index, values) = payload
            uscc = _certified(certificate, NameOID.ORGANIZATION_IDENTIFIER).removeprefix(USCC_PREFIX)
            body = (f"{IDENTIFIER_PREFIX}.{_typed(type_code, int):04d}.{uscc}.{_typed(serial, int):0{SERIAL_DIGITS}d}"
                    f".{_typed(version, int):0{VERSION_DIGITS}d}")
            identifier = f"{body}.{check_character(body)}"
            issued = _time(issued_at)
            content = cls(
                identifier=identifier,
                proof_code=parse_identifier(identifier).proof_code,
                proof_name_zh=_typed(proof_name, str),
                holder_name=_typed(holder_name, str),
                holder_id_masked=_typed(holder_id_masked, str),
                holder_binding=HolderBinding(_typed(salt, bytes), _typed(digest, bytes)),
                issuer=Issuer(_typed(department_code, str), _certified(certificate, NameOID.ORGANIZATION_NAME), uscc),
                issued_at=issued,
                valid_from=_time(issued_at + _typed(valid_from_offset, int)),
                valid_until=_optional_time(valid_until),
                as_of=_optional_time(as_of),
                purpose=_typed(purpose, str),
                status=StatusEntry(_typed(list_url, str), _typed(index, int)),
                values=tuple(_typed(values, Mapping).items()),
            )
        except Exception as error:  # untrusted input: any shape error becomes InvalidContent
            raise InvalidContent(f"QR payload is not a certificate ({type(error).__name__}: {error})") from None
        check_identifier(content.identifier, content.proof_code, content.issuer.uscc)
        return content

    @classmethod
    def from_cbor_map(cls, payload: Any) -> QrContent:
        """The content of an MZ1 payload."""
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
        return {**self.facts_document(), "fields": [{"name": name, "value": value} for name, value in self.values]}


def encode_qr(content: CertificateContent, signer: Signer) -> str:
    """The signed QR payload of `content`."""
    protected = cbor2.dumps({COSE_ALG: COSE_ES256, COSE_KID: b64url_decode(signer.key_id)[:KID_BYTES]})
    payload = cbor2.dumps(QrContent.of(content).to_compact())
    signature = raw_signature(signer.sign(_sig_structure(protected, payload)))
    message = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return PREFIX + base45.b45encode(zlib.compress(message, 9)).decode("ascii")


def verify_qr(text: str, trust: TrustStore, *, now: datetime) -> SignedForm:
    """Verify a QR payload (MZ2, or MZ1 of certificates printed before) against the trust store
    and read its content."""
    try:
        prefix, protected, header, payload, signature = _parse(text)
        decoded = cbor2.loads(payload)
        legacy = QrContent.from_cbor_map(decoded) if prefix == LEGACY_PREFIX else None
    except (ValueError, InvalidContent) as error:
        return _malformed(error)
    if header.get(COSE_ALG) != COSE_ES256:
        alg = header.get(COSE_ALG)
        return SignedForm(integrity_only(CheckResult.of(Check.INTEGRITY, Status.INVALID, "alg_not_allowed", alg=alg)), legacy)
    kid = header.get(COSE_KID)
    certificate = _seal(trust, kid, whole=prefix == LEGACY_PREFIX) if isinstance(kid, bytes) else None
    if certificate is None:
        claimed = _claimed_issue(decoded, legacy)
        if claimed is None:  # every certificate says when it was issued
            return _malformed(InvalidContent("QR payload gives no issue time"))
        return SignedForm(integrity_only(seal_not_found(trust, claimed, now)), legacy)
    try:
        content = legacy or QrContent.from_compact(decoded, certificate)
    except InvalidContent as error:
        return _malformed(error)
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


def as_pasted(text: str) -> str:
    """The payload a verifier pasted: `text`, or its percent-decoded form when only that decodes
    (what follows `#` in the verification address the QR code holds: `%20` for a space, `%25` for
    `%`, which are Base45 characters, so a payload decoding as it is is taken as it is)."""
    if "%" not in text:
        return text
    for candidate in (text, unquote(text)):
        try:
            _parse(candidate)
        except ValueError:
            continue
        return candidate
    return text


def is_qr_payload(text: str) -> bool:
    """Whether `text` starts like a QR payload of any version."""
    return text.startswith(PREFIXES)


def _malformed(error: Exception) -> SignedForm:
    detail = str(error) if isinstance(error, InvalidContent) else f"QR payload: {error}"
    return SignedForm(integrity_only(CheckResult.of(Check.INTEGRITY, Status.INVALID, "malformed", detail=detail)), None)


def _seal(trust: TrustStore, kid: bytes, *, whole: bool) -> x509.Certificate | None:
    """The seal certificate the kid names: by the whole kid (MZ1), or by the only seal whose kid
    starts with these `KID_BYTES` bytes (MZ2)."""
    if whole:
        return trust.seal_by_kid(b64url_encode(kid))
    if len(kid) != KID_BYTES:
        return None
    named = [certificate for certificate in trust.seal_certificates
             if b64url_decode(certificate_kid(certificate)).startswith(kid)]
    return named[0] if len(named) == 1 else None


def _certified(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    """The one value of a subject attribute of the seal certificate."""
    [attribute] = certificate.subject.get_attributes_for_oid(oid)
    return str(attribute.value)


def _parse(text: str) -> tuple[str, bytes, Mapping[Any, Any], bytes, bytes]:
    """Split a payload into its prefix, protected header bytes, decoded header, payload bytes and
    signature."""
    text = text.strip()
    prefix = next((candidate for candidate in PREFIXES if text.startswith(candidate)), None)
    if prefix is None:
        raise ValueError(f"does not start with {' or '.join(PREFIXES)}")
    try:
        compressed = base45.b45decode(text[len(prefix) :])
        inflater = zlib.decompressobj()
        message = inflater.decompress(compressed, MAX_PAYLOAD_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("compressed data is truncated or too large")
        if inflater.unused_data:
            raise ValueError("data follows the compressed stream")
        cose = _one_cbor_item(message)
    except (ValueError, zlib.error, cbor2.CBORDecodeError) as error:
        raise ValueError(f"cannot decode ({type(error).__name__})") from None
    if not isinstance(cose, cbor2.CBORTag) or cose.tag != COSE_SIGN1_TAG:
        raise ValueError("not a tagged COSE_Sign1 message")
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
    return prefix, protected, header, payload, signature


def _one_cbor_item(data: bytes) -> Any:
    """The one CBOR item `data` holds; ValueError when anything follows it (it would be unsigned)."""
    stream = io.BytesIO(data)
    item = cbor2.CBORDecoder(stream).decode()
    if stream.tell() != len(data):
        raise ValueError("data follows the signed message")
    return item


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


def _claimed_issue(decoded: Any, legacy: QrContent | None) -> datetime | None:
    """When a payload not yet verified says it was issued, if it says so readably."""
    if legacy is not None:
        return legacy.issued_at
    try:
        return _time(decoded[9])
    except (TypeError, IndexError, KeyError, ValueError, OverflowError, OSError):
        return None


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)
