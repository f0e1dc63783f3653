"""The secrets an installation's data depends on, checked against its database by `mianzheng init`.

ID numbers are looked up under the subject hash key and personal data is sealed under the
encryption keys: what a database holds is readable only with the secrets it was written with. A
database restored without them, or with another installation's, must not be given new ones: init
would go on, every check would pass (the audit chain, the status lists), and every lookup and
sealed value would be lost without a word. So the database keeps a fingerprint of each secret
(HMAC-SHA256 of a fixed text under it: nothing of the secret itself), a `setup_steps` row
written at the end of the first init run that checks it and succeeds (a run refused half-way,
by a key file the passphrase does not open, records nothing), and init

- generates secrets only while no catalog has been published (a new installation);
- refuses to go on (`SecretsNotRestored`, in Chinese) when one is missing, when one differs from
  its fingerprint, or when an encryption key that data is sealed under is not in the keyring.
  An encryption key nothing is sealed under may change (removed, and made again by `keys
  rotate`): its fingerprint is recorded again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.secrets import SUBJECT_HASH_KEY, ensure_secrets, keyring_secrets, missing_secrets, read_secret
from api.settings import Settings
from api.setup_steps import SetupStep, run_once
from catalog.versions import latest_version

_CHECKED_TEXT = b"mianzheng: the database's check of a secret"
_ENCRYPTION_KEY = "secret:encryption-key:"


class SecretsNotRestored(RuntimeError):
    """The database holds data written under secrets this installation does not have (in Chinese)."""


def fingerprint(secret: bytes) -> str:
    return hmac.new(secret, _CHECKED_TEXT, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class SecretCheck:
    created: list[str]
    """The secrets generated now (a new installation)."""
    fingerprints: dict[str, str]
    """Fingerprints to record once the run that checked them has done the rest (`record_fingerprints`)."""


def checked_secrets(engine: Engine, settings: Settings) -> SecretCheck:
    """Generate the secrets a new installation lacks and check them all against the fingerprints
    the database holds; what to record once the run succeeds. An encryption key nothing is sealed
    under yet may be another than the one fingerprinted (removed, and made again by `keys rotate`)."""
    with Session(engine) as session:
        established = latest_version(session) is not None
    missing = missing_secrets(settings)
    if established and missing:
        raise SecretsNotRestored(
            f"数据库中已有数据，但缺少密钥材料 {'、'.join(missing)}（{settings.secrets_dir} 下的文件或相应环境变量）："
            "须与数据库一起从备份恢复后再运行；init 不会另行生成，否则已有数据将无法读取。")
    created = ensure_secrets(settings)
    keys = keyring_secrets(settings)
    expected = {f"secret:{SUBJECT_HASH_KEY.file_name}": fingerprint(read_secret(settings, SUBJECT_HASH_KEY))}
    expected |= {f"{_ENCRYPTION_KEY}{key_id}": fingerprint(secret) for key_id, secret in keys.items()}
    from exchange.reencryption import values_under  # every sealed table: loaded only for a count

    with Session(engine) as session:
        recorded = {name: version for name, version in session.execute(
            select(SetupStep.name, SetupStep.version).where(SetupStep.name.startswith("secret:")))}
        changed = {name for name, value in expected.items() if recorded.get(name, value) != value}
        sealed = values_under(session) if changed or set(recorded) - set(expected) else {}  # counted only then
    for name, value in expected.items():
        key_id = int(name.removeprefix(_ENCRYPTION_KEY)) if name.startswith(_ENCRYPTION_KEY) else None
        if recorded.get(name, value) != value and (key_id is None or sealed.get(key_id)):
            told = SUBJECT_HASH_KEY.file_name if key_id is None else f"加密密钥 {key_id}"
            raise SecretsNotRestored(
                f"密钥材料 {told} 与数据库中的数据不符（不是写入这些数据时所用的那一份）：请从与数据库同一份备份中恢复"
                f" {settings.secrets_dir}（或相应环境变量）后再运行。")
    for name in sorted(set(recorded) - set(expected)):  # a key the keyring lost: fine once nothing is sealed under it
        key_id = int(name.removeprefix(_ENCRYPTION_KEY))
        if sealed.get(key_id):
            raise SecretsNotRestored(
                f"有 {sealed[key_id]} 条数据由加密密钥 {key_id} 加密，但密钥环中没有它：请从备份恢复该密钥"
                "（encryption-keys 下的文件或 MIANZHENG_ENCRYPTION_KEYS）后再运行。")
    return SecretCheck(created, {name: value for name, value in expected.items() if recorded.get(name) != value})


def encryption_key_fingerprint(settings: Settings, key_id: int) -> dict[str, str]:
    """The fingerprint of encryption key `key_id` as `record_fingerprints` takes it (`keys rotate`
    records the key it made: an id may be made again after a key nothing was sealed under went)."""
    return {f"{_ENCRYPTION_KEY}{key_id}": fingerprint(keyring_secrets(settings)[key_id])}


def record_fingerprints(engine: Engine, fingerprints: Mapping[str, str]) -> None:
    """Record the fingerprints `checked_secrets` found new or changed (each in its own step)."""
    for name, value in fingerprints.items():
        run_once(engine, name, value, lambda _sessions: None)
