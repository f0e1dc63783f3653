"""The service's secrets: the passphrase that encrypts seal keys and the key of the keyed
hash under which ID numbers are looked up.

Production passes them in the environment (MIANZHENG_KEY_PASSPHRASE,
MIANZHENG_SUBJECT_HASH_KEY). The embedded default generates them once into files under
`var/secrets/` (mode 0600) at `mianzheng init`. Their values never appear in a log line,
a response or an error message. `derive_key` gives a key for one purpose (the portal's
form tokens) from a secret, so no further secret has to be generated or configured.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from api.settings import Settings


@dataclass(frozen=True)
class Secret:
    file_name: str
    env_var: str


KEY_PASSPHRASE = Secret("key-passphrase", "MIANZHENG_KEY_PASSPHRASE")
SUBJECT_HASH_KEY = Secret("subject-hash-key", "MIANZHENG_SUBJECT_HASH_KEY")
ALL_SECRETS = (KEY_PASSPHRASE, SUBJECT_HASH_KEY)


class SecretMissing(RuntimeError):
    """A secret is neither in the environment nor generated under var/secrets/."""


def read_secret(settings: Settings, secret: Secret) -> bytes:
    """The secret's value: the environment variable if set, else the generated file."""
    from_env = (settings.environ or {}).get(secret.env_var)
    if from_env:
        return from_env.encode("utf-8")
    path = settings.secrets_dir / secret.file_name
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        raise SecretMissing(f"{secret.env_var} is not set and {path} does not exist: run `mianzheng init`") from None


def ensure_secrets(settings: Settings) -> list[str]:
    """Generate every secret that is neither in the environment nor on disk; returns their names."""
    created = []
    settings.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for secret in ALL_SECRETS:
        path = settings.secrets_dir / secret.file_name
        if (settings.environ or {}).get(secret.env_var) or path.exists():
            continue
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(32))
        created.append(secret.file_name)
    return created


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for `purpose` derived from `secret` (HKDF-SHA256); independent per purpose."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"mianzheng {purpose}".encode()).derive(secret)
