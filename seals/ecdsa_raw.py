"""Raw ECDSA P-256 signatures (r || s, 32 bytes each) as JWS ES256 (RFC 7518 §3.4) and COSE
ES256 carry them, in their one low-S form.

An ECDSA signature (r, s) has a twin (r, n − s) that verifies as well, so anyone can change
the bytes of a signed credential or QR payload without the key. We sign with s ≤ n/2 and
verify only that form (as Bitcoin's BIP 62 does), so a signed token has exactly one valid
encoding.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

COORDINATE_BYTES = 32
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def raw_signature(der: bytes) -> bytes:
    """The low-S raw form of a DER signature as a `Signer` returns it."""
    r, s = decode_dss_signature(der)
    s = min(s, P256_ORDER - s)
    return r.to_bytes(COORDINATE_BYTES, "big") + s.to_bytes(COORDINATE_BYTES, "big")


def der_signature(raw: bytes) -> bytes | None:
    """The DER form to verify a raw signature with; None unless it is 64 bytes with
    0 < r < n and 0 < s ≤ n/2 (the high-S twin is refused)."""
    if len(raw) != 2 * COORDINATE_BYTES:
        return None
    r = int.from_bytes(raw[:COORDINATE_BYTES], "big")
    s = int.from_bytes(raw[COORDINATE_BYTES:], "big")
    if not (0 < r < P256_ORDER and 0 < s <= P256_ORDER // 2):
        return None
    return encode_dss_signature(r, s)
