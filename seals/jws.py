"""JWS compact serialization (RFC 7515) signed by a seal.

Protected header: {"alg", "typ", "kid", "x5c": [seal certificate, root]} (x5c is standard
base64 DER). The payload is a JSON object; an `iat` claim (NumericDate, the signing time used
by verifiers) is added when the caller did not set one. ES256 signatures are raw r||s
(RFC 7518 §3.4) in low-S form (`seals.ecdsa_raw`), converted from the DER form a `Signer` returns.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from core.canonical import canonical_json
from core.base64url import b64url_encode
from seals.ca import x5c_entry
from seals.ecdsa_raw import raw_signature
from seals.errors import SigningFailed
from seals.keys import Signer


def sign_jws(payload: Mapping[str, Any], signer: Signer, *, typ: str = "JWT") -> str:
    """Sign `payload` as a compact JWS with the seal behind `signer`."""
    if signer.algorithm != "ES256":
        raise SigningFailed(f"JWS signing supports ES256 seals, not {signer.algorithm}")
    header = {
        "alg": signer.algorithm,
        "typ": typ,
        "kid": signer.key_id,
        "x5c": [x5c_entry(certificate) for certificate in signer.certificate_chain],
    }
    claims = dict(payload)
    claims.setdefault("iat", int(time.time()))
    signing_input = f"{_encode_json(header)}.{_encode_json(claims)}"
    signature = raw_signature(signer.sign(signing_input.encode("ascii")))
    return f"{signing_input}.{b64url_encode(signature)}"


def _encode_json(value: Mapping[str, Any]) -> str:
    return b64url_encode(canonical_json(value))
