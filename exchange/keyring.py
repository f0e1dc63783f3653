"""The installation's keys: one derivation per purpose, and the sealing (AES-256-GCM) of the
personal data kept in the database.

Every key is derived (HKDF-SHA256) from a master secret and a purpose label, so a key for one
purpose tells nothing about another. The encryption master secrets carry a key id: a value is
sealed under the current (highest) id and stored with that id (`Sealed`, mapped as two columns
by a composite); a value sealed under an older id opens as long as that id is in the
keyring. So the encryption keys rotate without losing data: add a key, re-seal the rows under
it (`exchange.reencryption`), then retire the old one. A keyring given `changes` takes in keys
added or retired meanwhile before it names the current key or misses one, so a running process
seals under a key added by `keys rotate` from then on, not under the one about to be retired.

Key 0 is the secret everything was sealed under before the keyring (the subject hash key); with
it, application data is sealed under the exchange answers' derivation as it was then.

The key under which ID numbers are looked up (`exchange.subjects`) is not in this keyring: a
keyed hash cannot be recomputed without the ID number in clear, so that key does not rotate.
Key material never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from core.canonical import canonical_json

LEGACY_KEY_ID = 0
"""The id of the secret that sealed rows before the keyring existed (the subject hash key)."""
_NONCE_BYTES = 12


class Purpose(StrEnum):
    """What a derived key is for; the value is its HKDF label."""

    EXCHANGE_ANSWERS = "exchange answers v1"
    APPLICATION_DATA = "application data v1"
    LICENSE_DATA = "license credentials v1"
    CERTIFICATE_FORMS = "certificate forms v1"
    FORM_TOKENS = "portal form tokens v1"


_LEGACY_LABELS = {Purpose.APPLICATION_DATA: Purpose.EXCHANGE_ANSWERS}
"""Under key 0, application data was sealed under the exchange answers' key."""


class KeyNotInKeyring(LookupError):
    """A value was sealed under a key id the keyring no longer (or never) held."""


class SealedRecordAltered(Exception):
    """A sealed value does not open under what it is bound to: the value, or the row that names
    it (a license version's identifier ...), was changed or moved beside the exchange. Nothing of
    it can be used."""


def derive_key(secret: bytes, label: str) -> bytes:
    """A 32-byte key for `label` derived from `secret` (HKDF-SHA256); independent per label."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"mianzheng {label}".encode()).derive(secret)


@dataclass(frozen=True)
class Sealed:
    """A sealed value and the id of the key it was sealed under."""

    key_id: int
    blob: bytes

    def __composite_values__(self) -> tuple[int, bytes]:
        return self.key_id, self.blob

    def __repr__(self) -> str:
        return f"Sealed(key_id={self.key_id}, {len(self.blob)} bytes)"


def sealed_or_none(key_id: int | None, blob: bytes | None) -> Sealed | None:
    """The composite's value of a row's two columns (None when nothing is sealed), for models to map
    `<name>_sealed: Mapped[Sealed] = composite(sealed_or_none, "<name>_key_id", "<name>_blob")`."""
    return None if blob is None or key_id is None else Sealed(key_id, blob)


def _check(secrets: Mapping[int, bytes]) -> None:
    if not secrets or any(not secret for secret in secrets.values()):
        raise ValueError("a keyring needs at least one non-empty secret")


class Keyring:
    """The encryption master secrets by key id; the current one is the highest id. Each key is
    derived once and kept (a value is sealed or opened many times a request)."""

    def __init__(self, secrets: Mapping[int, bytes], *,
                 changes: Callable[[], Mapping[int, bytes] | None] | None = None) -> None:
        """`changes`: the secrets as they are now, or None when they have not changed since it was
        last asked (e.g. the key files' folder, read again only when it changed)."""
        _check(secrets)
        self._secrets = dict(secrets)
        self._changes = changes
        self._derived: dict[tuple[Purpose, int], bytes] = {}
        self._ciphers: dict[tuple[Purpose, int], AESGCM] = {}
        """(purpose, key id) -> its key and its AES-GCM, derived once: a key id's secret never changes."""

    def __repr__(self) -> str:
        return f"Keyring(key_ids={list(self.key_ids)})"

    def refresh(self) -> None:
        """Take in the keys added or retired since (`changes`); nothing without `changes`."""
        secrets = self._changes() if self._changes is not None else None
        if secrets and all(secrets.values()) and secrets != self._secrets:
            self._secrets = dict(secrets)

    @property
    def key_ids(self) -> tuple[int, ...]:
        self.refresh()
        return tuple(sorted(self._secrets))

    @property
    def current_id(self) -> int:
        self.refresh()
        return max(self._secrets)

    def key(self, purpose: Purpose, key_id: int) -> bytes:
        """The key for `purpose` under the master secret `key_id` (the keyring refreshed first when
        it lacks it: a key another process's `keys rotate` added)."""
        derived = self._derived.get((purpose, key_id))
        if derived is None:
            if key_id not in self._secrets:
                self.refresh()
            secret = self._secrets.get(key_id)
            if secret is None:
                raise KeyNotInKeyring(f"key {key_id} is not in the keyring")
            label = _LEGACY_LABELS.get(purpose, purpose) if key_id == LEGACY_KEY_ID else purpose
            derived = self._derived[(purpose, key_id)] = derive_key(secret, label.value)
        return derived

    def aead(self, purpose: Purpose, key_id: int) -> AESGCM:
        """AES-GCM under `key(purpose, key_id)`, made once per keyring (every stored answer is sealed)."""
        aead = self._ciphers.get((purpose, key_id))
        if aead is None:
            aead = self._ciphers[(purpose, key_id)] = AESGCM(self.key(purpose, key_id))
        return aead

    def keys(self, purpose: Purpose) -> list[bytes]:
        """Every key for `purpose`, oldest first, the current one last."""
        return [self.key(purpose, key_id) for key_id in self.key_ids]

    def cipher(self, purpose: Purpose) -> RecordCipher:
        return RecordCipher(self, purpose)


@dataclass(frozen=True)
class RecordCipher:
    """Seals JSON documents for one purpose under the current key, bound to what they belong to
    (a sealed value cannot be moved to another row); opens them under any key in the keyring."""

    keyring: Keyring
    purpose: Purpose

    def for_purpose(self, purpose: Purpose) -> RecordCipher:
        return RecordCipher(self.keyring, purpose)

    def seal(self, document: dict[str, Any], bound_to: str) -> Sealed:
        key_id = self.keyring.current_id
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = self.keyring.aead(self.purpose, key_id).encrypt(
            nonce, canonical_json(document), bound_to.encode("utf-8"))
        return Sealed(key_id, nonce + ciphertext)

    def open(self, sealed: Sealed, bound_to: str) -> dict[str, Any]:
        nonce, ciphertext = sealed.blob[:_NONCE_BYTES], sealed.blob[_NONCE_BYTES:]
        try:
            opened = self.keyring.aead(self.purpose, sealed.key_id).decrypt(nonce, ciphertext, bound_to.encode("utf-8"))
        except InvalidTag:
            raise SealedRecordAltered(f"a sealed {self.purpose.value} value does not open under what it is bound to: "
                                      "it or its row was changed beside the exchange") from None
        return json.loads(opened)

    def reseal(self, sealed: Sealed, bound_to: str) -> Sealed:
        """The same document sealed under the current key."""
        return self.seal(self.open(sealed, bound_to), bound_to)
