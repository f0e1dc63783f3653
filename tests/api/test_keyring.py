"""The encryption keys rotate without losing data, as an operator does it: add a key, restart,
still replay the answers sealed under the old key, move everything to the new key with
`mianzheng keys reencrypt` and retire the old key; a portal form opened before the rotation
is still accepted after it. An installation from before the keyring (everything sealed under
the subject hash key) has that key as key 0, and rotating keeps it readable."""

from __future__ import annotations

import re
import shutil
import stat

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from api.app import create_app
from api.database import standalone_session
from api.secrets import ENCRYPTION_KEYS_DIR, SUBJECT_HASH_KEY, add_encryption_key, read_keyring, read_secret
from api.settings import Settings
from exchange.answer_store import AnsweredRequest
from exchange.keyring import Keyring, Purpose
from exchange.reencryption import SEALED_VALUES
from demo.data import DemoResident, sample_residents
from tests.api.test_exchange_requests import _bearer, assertion, client_token, consent, envelope
from tests.support.cli import cli_environment, run_cli
from tests.support.live_server import serving


def stored_key_ids(settings: Settings) -> list[int | None]:
    with standalone_session(settings.database_url) as session:
        return list(session.scalars(select(AnsweredRequest.answer_key_id).order_by(AnsweredRequest.id)))


def portal_form_token(base: str, person: DemoResident) -> tuple[str, str]:
    """The identity cookie of a sign-in and the form token of the portal page it sees."""
    cookie = assertion(base, person)
    page = httpx.get(f"{base}/portal", cookies={"mz_identity": cookie})
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return cookie, token.group(1)


def preview(base: str, cookie: str, token: str) -> httpx.Response:
    return httpx.post(f"{base}/portal/certificates", cookies={"mz_identity": cookie},
                      data={"csrf_token": token, "proof": "NO_HOUSING", "purpose": "申请公租房"})


def opened_values(settings: Settings, keyring: Keyring) -> int:
    """Open every sealed value in the database with `keyring` (raises if one does not open)."""
    opened = 0
    with standalone_session(settings.database_url) as session:
        for value in SEALED_VALUES:
            cipher = keyring.cipher(value.purpose)
            for row in session.scalars(select(value.model)):
                sealed = getattr(row, f"{value.name}_sealed")
                if sealed is not None:
                    assert isinstance(cipher.open(sealed, value.bound_to(row)), dict)
                    opened += 1
    return opened


def operator_resident_and_token(settings: Settings) -> tuple[dict[str, str], DemoResident, str]:
    """The operator's command environment, a demo resident and the housing bureau's client token."""
    return cli_environment(settings.database_url, settings.var_dir), sample_residents(settings.sources_dir, 1)[0], \
        client_token(settings)


def test_rotating_the_encryption_key_loses_nothing_and_retires_the_old_key(settings: Settings) -> None:
    env, person, token = operator_resident_and_token(settings)

    before = create_app(settings)
    with serving(before) as base:
        consent(base, person)
        first = httpx.post(f"{base}/api/v1/exchange/requests", headers=_bearer(token), json=envelope(person, "R-1"))
        assert first.status_code == 200, first.text
        cookie, form_token = portal_form_token(base, person)
        assert preview(base, cookie, form_token).status_code == 200
        assert preview(base, cookie, form_token[:-2] + "xx").status_code == 400
    before.extensions["mianzheng"].engine.dispose()
    assert stored_key_ids(settings) == [1]
    sealed = opened_values(settings, read_keyring(settings))
    assert sealed > 1  # the answer and the demo licenses' credentials

    rotated = run_cli(env, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    keys = settings.secrets_dir / ENCRYPTION_KEYS_DIR
    assert sorted(p.name for p in keys.iterdir()) == ["1", "2"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys.iterdir())
    for path in keys.iterdir():
        assert path.read_text() not in rotated.stdout + rotated.stderr

    after = create_app(settings)  # the service restarted on the new keyring
    with serving(after) as base:
        replay = httpx.post(f"{base}/api/v1/exchange/requests", headers=_bearer(token), json=envelope(person, "R-1"))
        assert replay.status_code == 200 and replay.json() == first.json()  # sealed under key 0, still read
        second = httpx.post(f"{base}/api/v1/exchange/requests", headers=_bearer(token), json=envelope(person, "R-2"))
        assert second.status_code == 200, second.text
        assert preview(base, cookie, form_token).status_code == 200  # a form opened before the rotation
        assert stored_key_ids(settings) == [1, 2]

        refused = run_cli(env, "keys", "retire", "1")
        assert refused.returncode == 1 and f"{sealed} 条数据由密钥 1 加密" in refused.stderr
        status = run_cli(env, "keys", "status").stdout
        assert f"密钥 1  在用  加密数据 {sealed} 条" in status and "密钥 2  当前  加密数据 1 条" in status

        moved = run_cli(env, "keys", "reencrypt", "--batch", "50")
        assert moved.returncode == 0 and f"重新加密 {sealed} 条" in moved.stdout, moved.stderr
        assert stored_key_ids(settings) == [2, 2]
        assert "重新加密 0 条" in run_cli(env, "keys", "reencrypt").stdout  # nothing left: a rerun is a no-op

        retired = run_cli(env, "keys", "retire", "1")
        assert retired.returncode == 0, retired.stderr
        assert sorted(p.name for p in keys.iterdir()) == ["2"]
    after.extensions["mianzheng"].engine.dispose()

    assert opened_values(settings, read_keyring(settings)) == sealed + 1  # everything opens without key 1
    retired_app = create_app(settings)  # restarted without key 1
    with serving(retired_app) as base:
        replay = httpx.post(f"{base}/api/v1/exchange/requests", headers=_bearer(token), json=envelope(person, "R-1"))
        assert replay.status_code == 200 and replay.json() == first.json()
    retired_app.extensions["mianzheng"].engine.dispose()
    assert f"密钥 2  当前  加密数据 {sealed + 1} 条" in run_cli(env, "keys", "status").stdout


def test_a_server_not_restarted_seals_under_the_new_key_and_survives_the_retirement(settings: Settings) -> None:
    """The operator rotates, re-encrypts and retires without restarting the server. Before, the
    running workers went on sealing under the old key; retire then deleted it, and what they had
    stored since could never be opened again."""
    env, person, token = operator_resident_and_token(settings)
    app = create_app(settings)
    with serving(app) as base:
        consent(base, person)
        assert httpx.post(f"{base}/api/v1/exchange/requests", headers=_bearer(token),
                          json=envelope(person, "K-1")).status_code == 200
        assert run_cli(env, "keys", "rotate").returncode == 0
        after_rotation = httpx.post(f"{base}/api/v1/exchange/requests", headers=_bearer(token),
                                    json=envelope(person, "K-2"))
        assert after_rotation.status_code == 200
        assert stored_key_ids(settings) == [1, 2]
        assert run_cli(env, "keys", "reencrypt").returncode == 0
        retired = run_cli(env, "keys", "retire", "1")
        assert retired.returncode == 0, retired.stderr
        later = httpx.post(f"{base}/api/v1/exchange/requests", headers=_bearer(token), json=envelope(person, "K-3"))
        replay = httpx.post(f"{base}/api/v1/exchange/requests", headers=_bearer(token), json=envelope(person, "K-2"))
        assert later.status_code == 200 and replay.json() == after_rotation.json()
    app.extensions["mianzheng"].engine.dispose()
    assert stored_key_ids(settings) == [2, 2, 2]
    assert opened_values(settings, read_keyring(settings)) > 3


def test_an_installation_from_before_the_keyring_reads_its_data_under_key_0_and_rotates(settings: Settings) -> None:
    """Before the keyring, every value was sealed under keys derived from the subject hash key:
    with no encryption key configured that secret is key 0, and rotating keeps it as a file."""
    keys = settings.secrets_dir / ENCRYPTION_KEYS_DIR
    shutil.rmtree(keys)
    subject_hash_key = read_secret(settings, SUBJECT_HASH_KEY)
    legacy = read_keyring(settings)
    assert legacy.key_ids == (0,)
    document = {"presentation": "eyJ.a.b"}
    for purpose, label in [(Purpose.EXCHANGE_ANSWERS, b"mianzheng exchange answers v1"),
                           (Purpose.APPLICATION_DATA, b"mianzheng exchange answers v1"),
                           (Purpose.LICENSE_DATA, b"mianzheng license credentials v1"),
                           (Purpose.FORM_TOKENS, b"mianzheng portal form tokens v1")]:
        before = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(subject_hash_key)
        assert legacy.key(purpose, 0) == before  # the keys the rows were sealed under before the keyring
    sealed = legacy.cipher(Purpose.APPLICATION_DATA).seal(document, "application-data\nA-1")
    # application data was sealed under the exchange answers' derivation then
    assert legacy.cipher(Purpose.EXCHANGE_ANSWERS).open(sealed, "application-data\nA-1") == document

    assert add_encryption_key(settings) == 1
    assert sorted(p.name for p in keys.iterdir()) == ["0", "1"]
    assert (keys / "0").read_bytes() == subject_hash_key
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys.iterdir())
    rotated = read_keyring(settings)
    assert rotated.current_id == 1
    assert rotated.cipher(Purpose.APPLICATION_DATA).open(sealed, "application-data\nA-1") == document
    fresh = rotated.cipher(Purpose.APPLICATION_DATA).seal(document, "application-data\nA-1")
    assert fresh.key_id == 1 and rotated.cipher(Purpose.APPLICATION_DATA).open(fresh, "application-data\nA-1") == document
    assert subject_hash_key.decode() not in repr(rotated) + repr(fresh)
