"""Private keys at rest and the `Signer` interface that hides where a key lives.

Key files are PKCS#8 PEM encrypted with the caller's passphrase (`BestAvailableEncryption`),
created with mode 0600 (`os.open(..., 0o600)`, never chmod after writing) in a directory with
mode 0700. A key reference is a bare file name inside that directory, never a path.

Loaded keys are cached in-process (decrypting a PKCS#8 file runs a deliberately slow KDF):
the cache key is the file's identity and state as `stat()` gives them (device, inode, change
time, mtime, size) plus a SHA-256 digest of the passphrase, so a different passphrase never gets
a cached key and a replaced or rewritten file is re-read.
`clear_key_cache()` empties it (tests, key rotation by hand).

Nothing in this module puts key material or passphrases in a repr, an exception or a log line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.private_files import private_dir, sync_dir, synced
from seals.ca import certificate_kid
from seals.errors import KeyUnavailable

KEY_REF_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.key$")
log = logging.getLogger(__name__)

_cache: dict[tuple[int, int, int, int, int, bytes], ec.EllipticCurvePrivateKey] = {}
_cache_lock = threading.Lock()


class Signer(Protocol):
    """Something that signs with a seal key: a key file today, an HSM (PKCS#11) later.

    `certificate_chain` is the seal certificate first and the root last. `algorithm` is the JOSE
    name of what `sign` produces: for "ES256" the signature is ECDSA P-256 over SHA-256 of `data`,
    DER-encoded (X9.62 Ecdsa-Sig-Value) as in CMS; JWS converts it to raw r||s.
    """

    @property
    def key_id(self) -> str: ...

    @property
    def certificate_chain(self) -> tuple[x509.Certificate, ...]: ...

    @property
    def algorithm(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class FileKeySigner:
    """A `Signer` backed by an ECDSA P-256 key loaded from an encrypted key file."""

    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    certificate_chain: tuple[x509.Certificate, ...]
    algorithm: str = "ES256"

    @property
    def key_id(self) -> str:
        return certificate_kid(self.certificate_chain[0])

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))


def write_key(key_dir: Path, key_ref: str, private_key: ec.EllipticCurvePrivateKey, passphrase: bytes) -> None:
    """Write `private_key` encrypted to `key_dir/key_ref` (0600); never overwrites a file."""
    path = _key_path(key_dir, key_ref)
    private_dir(key_dir)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyUnavailable(f"key file {key_ref} exists already") from None
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
        synced(out)  # on disk, name and all, before the seal that uses it is committed
    sync_dir(key_dir)


def load_key(key_dir: Path, key_ref: str, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    """Load (through the in-process cache) the key `key_ref` from `key_dir`. A key file readable
    by others (a restore or a hand copy loosened it) is made 0600 again first, and the log says so."""
    path = _key_path(key_dir, key_ref)
    try:
        stat = path.stat()
        if stat.st_mode & 0o077:
            log.warning("key file %s was readable by other accounts (mode %o): made 0600 again", key_ref,
                        stat.st_mode & 0o777)
            os.chmod(path, 0o600)
            stat = path.stat()
    except OSError:
        raise KeyUnavailable(f"key file {key_ref} is missing or unreadable") from None
    cache_key = (
        stat.st_dev,
        stat.st_ino,
        stat.st_ctime_ns,
        stat.st_mtime_ns,
        stat.st_size,
        hashlib.sha256(passphrase).digest(),
    )
    with _cache_lock:
        cached = _cache.get(cache_key)
    if cached is not None:
        return cached
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except (OSError, ValueError, TypeError):
        # the library's message is dropped on purpose: no detail about the key file's content
        raise KeyUnavailable(f"key file {key_ref} cannot be opened with the configured passphrase") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyUnavailable(f"key file {key_ref} does not hold an ECDSA key")
    with _cache_lock:
        _cache[cache_key] = key
    return key


def clear_key_cache() -> None:
    """Forget every cached key."""
    with _cache_lock:
        _cache.clear()


def _key_path(key_dir: Path, key_ref: str) -> Path:
    if not KEY_REF_PATTERN.match(key_ref):
        raise KeyUnavailable("a key reference must be a plain file name ending in .key")
    return key_dir / key_ref
