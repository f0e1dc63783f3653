"""The service's secrets: the passphrase that encrypts seal keys, the key of the keyed
hash under which ID numbers are looked up, and the encryption keyring.

Production passes them in the environment (MIANZHENG_KEY_PASSPHRASE,
MIANZHENG_SUBJECT_HASH_KEY, MIANZHENG_ENCRYPTION_KEYS as `id:secret` pairs separated by
commas). The embedded default generates them once into files under `var/secrets/` (mode
0600) at `mianzheng init`, the encryption keys one file per key id under
`var/secrets/encryption-keys/`. An installation with no encryption key configured keeps
the keyring it had before there was one: key 0, the subject hash key. `add_encryption_key`
rotates: it adds the next key id (keeping key 0 readable when it was that implicit one).
Their values never appear in a log line, a response or an error message.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from pathlib import Path

from api.settings import Settings
from core.private_files import private_dir, sync_dir, synced
from exchange.keyring import LEGACY_KEY_ID, Keyring


@dataclass(frozen=True)
class Secret:
    file_name: str
    env_var: str


KEY_PASSPHRASE = Secret("key-passphrase", "MIANZHENG_KEY_PASSPHRASE")
SUBJECT_HASH_KEY = Secret("subject-hash-key", "MIANZHENG_SUBJECT_HASH_KEY")
ALL_SECRETS = (KEY_PASSPHRASE, SUBJECT_HASH_KEY)
ENCRYPTION_KEYS_ENV = "MIANZHENG_ENCRYPTION_KEYS"
ENCRYPTION_KEYS_DIR = "encryption-keys"


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
    """Generate every secret that is neither in the environment nor on disk; returns their names.

    A new installation (its subject hash key generated now, so nothing is sealed yet) gets an
    encryption key of its own, key 1; an existing one keeps the keyring it has."""
    created = missing_secrets(settings)
    private_dir(settings.secrets_dir)
    for name in created:
        _write_secret(settings.secrets_dir / name, secrets.token_urlsafe(32))
    if SUBJECT_HASH_KEY.file_name in created and not _key_files(settings) \
            and not (settings.environ or {}).get(ENCRYPTION_KEYS_ENV):
        folder = settings.secrets_dir / ENCRYPTION_KEYS_DIR
        private_dir(folder)
        _write_secret(folder / str(LEGACY_KEY_ID + 1), secrets.token_urlsafe(32))
        created.append(f"{ENCRYPTION_KEYS_DIR}/{LEGACY_KEY_ID + 1}")
    return created


def read_keyring(settings: Settings) -> Keyring:
    """The encryption keyring: MIANZHENG_ENCRYPTION_KEYS if set (a change needs a restart), else
    the key files, read again whenever their folder changes (`keys rotate` and `keys retire` are
    seen by running processes); with neither, key 0 is the subject hash key (the one key there
    was before the keyring)."""
    from_env = (settings.environ or {}).get(ENCRYPTION_KEYS_ENV)
    if from_env:
        return Keyring(_parse_keys(from_env))
    folder = settings.secrets_dir / ENCRYPTION_KEYS_DIR
    seen = [_changed_at(folder)]

    def changes() -> dict[int, bytes] | None:
        now = _changed_at(folder)
        if now == seen[0]:
            return None
        seen[0] = now
        return _read_key_files(settings) or None

    return Keyring(_read_key_files(settings) or {LEGACY_KEY_ID: read_secret(settings, SUBJECT_HASH_KEY)},
                   changes=changes)


def keyring_secrets(settings: Settings) -> dict[int, bytes]:
    """The keyring's secrets by key id as `read_keyring` reads them now (values never shown)."""
    from_env = (settings.environ or {}).get(ENCRYPTION_KEYS_ENV)
    if from_env:
        return _parse_keys(from_env)
    return _read_key_files(settings) or {LEGACY_KEY_ID: read_secret(settings, SUBJECT_HASH_KEY)}


def missing_secrets(settings: Settings) -> list[str]:
    """The secrets (file names) neither in the environment nor on disk."""
    environ = settings.environ or {}
    return [secret.file_name for secret in ALL_SECRETS
            if not environ.get(secret.env_var) and not (settings.secrets_dir / secret.file_name).exists()]


def _read_key_files(settings: Settings) -> dict[int, bytes]:
    return {key_id: path.read_bytes().strip() for key_id, path in _key_files(settings).items()}


def _changed_at(folder: Path) -> int | None:
    """When the key files' folder last changed (a key written or removed), None while it does not exist."""
    try:
        return os.stat(folder).st_mtime_ns
    except FileNotFoundError:
        return None


def add_encryption_key(settings: Settings) -> int:
    """Generate the next encryption key (a file, mode 0600) and return its id; it is the current
    key from now on. When the keyring was the implicit key 0, key 0 is written as a file first,
    so what was sealed under it stays readable until it is retired."""
    if (settings.environ or {}).get(ENCRYPTION_KEYS_ENV):
        raise SecretMissing(f"the keyring is given in {ENCRYPTION_KEYS_ENV}: add the new key there")
    folder = settings.secrets_dir / ENCRYPTION_KEYS_DIR
    private_dir(folder)
    keys = _key_files(settings)
    if not keys:
        _write_secret(folder / str(LEGACY_KEY_ID), read_secret(settings, SUBJECT_HASH_KEY).decode("utf-8"))
        keys = {LEGACY_KEY_ID: folder / str(LEGACY_KEY_ID)}
    key_id = max(keys) + 1
    _write_secret(folder / str(key_id), secrets.token_urlsafe(32))
    return key_id


def remove_encryption_key(settings: Settings, key_id: int) -> None:
    """Delete the file of a retired key (the caller checked nothing is sealed under it)."""
    if (settings.environ or {}).get(ENCRYPTION_KEYS_ENV):
        raise SecretMissing(f"the keyring is given in {ENCRYPTION_KEYS_ENV}: remove key {key_id} there")
    path = _key_files(settings).get(key_id)
    if path is None:
        raise SecretMissing(f"key {key_id} has no file under {settings.secrets_dir / ENCRYPTION_KEYS_DIR}")
    path.unlink()


def _parse_keys(text: str) -> dict[int, bytes]:
    keys: dict[int, bytes] = {}
    for pair in text.split(","):
        key_id, separator, secret = pair.strip().partition(":")
        if not separator or not key_id.isdigit() or not secret:
            raise SecretMissing(f"{ENCRYPTION_KEYS_ENV} must be id:secret pairs separated by commas")
        keys[int(key_id)] = secret.encode("utf-8")
    return keys


def _key_files(settings: Settings) -> dict[int, Path]:
    folder = settings.secrets_dir / ENCRYPTION_KEYS_DIR
    if not folder.is_dir():
        return {}
    return {int(path.name): path for path in folder.iterdir() if path.name.isdigit()}


def _write_secret(path: Path, value: str) -> None:
    """Write a new secret file (0600), whole or not at all: a running process reading the folder
    never sees it empty (it is written under a name no reader takes, then linked to its own)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(value)
            synced(file)  # on disk before anything is sealed under it: a power cut must not lose a key in use
    except OSError as failed:  # a full disk: nothing half written stays, and the error names the file
        partial.unlink()
        raise OSError(failed.errno, failed.strerror, str(path)) from failed
    try:
        os.link(partial, path)  # fails if the name exists: never overwrites a secret
    finally:
        os.unlink(partial)
        sync_dir(path.parent)
