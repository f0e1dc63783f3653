"""The secrets an installation's data depends on, checked against its database by `mianzheng init`.

ID numbers are looked up under the subject hash key and personal data is sealed under the
encryption keys: what a database holds is readable only with the secrets it was written with. A
database restored without them, or with another installation's, must not be given new ones: init
would go on, every check would pass (the audit chain, the status lists), and every lookup and
sealed value would be lost without a word. So the database keeps a fingerprint of each secret
(HMAC-SHA256 of a fixed text under it: nothing of the secret itself), a `setup_steps` row
written when init first sees it, and init

- generates secrets only while no catalog has been published (a new installation);
- refuses to go on (`SecretsNotRestored`, in Chinese) when one is missing, when one differs from
  its fingerprint, or when an encryption key that data is sealed under is not in the keyring.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.secrets import SUBJECT_HASH_KEY, ensure_secrets, keyring_secrets, missing_secrets, read_secret
from api.settings import Settings
from api.setup_steps import SetupStep, done_version, run_once
from catalog.versions import latest_version

_CHECKED_TEXT = b"mianzheng: the database's check of a secret"
_ENCRYPTION_KEY = "secret:encryption-key:"


class SecretsNotRestored(RuntimeError):
    """The database holds data written under secrets this installation does not have (in Chinese)."""


def fingerprint(secret: bytes) -> str:
    return hmac.new(secret, _CHECKED_TEXT, hashlib.sha256).hexdigest()[:32]


def checked_secrets(engine: Engine, settings: Settings) -> list[str]:
    """Generate the secrets a new installation lacks and check them all against the database
    (recording their fingerprints the first time); the names generated."""
    with Session(engine) as session:
        established = latest_version(session) is not None
    missing = missing_secrets(settings)
    if established and missing:
        raise SecretsNotRestored(
            f"数据库中已有数据，但缺少密钥材料 {'、'.join(missing)}（{settings.secrets_dir} 下的文件或相应环境变量）："
            "须与数据库一起从备份恢复后再运行；init 不会另行生成，否则已有数据将无法读取。")
    created = ensure_secrets(settings)
    expected = {f"secret:{SUBJECT_HASH_KEY.file_name}": fingerprint(read_secret(settings, SUBJECT_HASH_KEY))}
    keys = keyring_secrets(settings)
    expected |= {f"{_ENCRYPTION_KEY}{key_id}": fingerprint(secret) for key_id, secret in keys.items()}
    for name, value in expected.items():
        recorded = done_version(engine, name)
        if recorded is None:
            run_once(engine, name, value, lambda _sessions: None)
        elif recorded != value:
            told = SUBJECT_HASH_KEY.file_name if name.endswith(SUBJECT_HASH_KEY.file_name) \
                else f"加密密钥 {name.removeprefix(_ENCRYPTION_KEY)}"
            raise SecretsNotRestored(
                f"密钥材料 {told} 与数据库中的数据不符（不是写入这些数据时所用的那一份）：请从与数据库同一份备份中恢复"
                f" {settings.secrets_dir}（或相应环境变量）后再运行。")
    _refuse_lost_keys(engine, set(keys))
    return created


def _refuse_lost_keys(engine: Engine, key_ids: set[int]) -> None:
    """A key the database saw that the keyring no longer has is fine once retired (nothing
    sealed under it); otherwise what is sealed under it is lost."""
    from exchange.reencryption import values_under

    with Session(engine) as session:
        seen = {int(name.removeprefix(_ENCRYPTION_KEY)) for name in session.scalars(
            select(SetupStep.name).where(SetupStep.name.startswith(_ENCRYPTION_KEY)))}
        lost = sorted(seen - key_ids)
        under = values_under(session) if lost else {}
    for key_id in lost:
        if under.get(key_id):
            raise SecretsNotRestored(
                f"有 {under[key_id]} 条数据由加密密钥 {key_id} 加密，但密钥环中没有它：请从备份恢复该密钥"
                "（encryption-keys 下的文件或 MIANZHENG_ENCRYPTION_KEYS）后再运行。")
