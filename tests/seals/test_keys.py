"""Key files: encrypted, 0600 in a 0700 directory, never shown; the in-process cache."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from seals import ca, keys
from seals.errors import KeyUnavailable
from seals.registry import Seal
from tests.seals.conftest import Pki

PASSPHRASE = b"correct horse battery staple"


def test_key_files_are_private_and_encrypted(pki: Pki) -> None:
    key_dir = pki.settings.key_dir
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    files = list(key_dir.iterdir())
    assert len(files) == 2  # the root and one seal
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_loading_needs_the_passphrase(pki: Pki) -> None:
    key_ref = pki.session.query(Seal).first().key_ref
    keys.load_key(pki.settings.key_dir, key_ref, PASSPHRASE)  # cached now
    for wrong in (b"", b"wrong"):
        with pytest.raises(KeyUnavailable) as raised:
            keys.load_key(pki.settings.key_dir, key_ref, wrong)
        assert "BEGIN" not in str(raised.value) and "wrong" not in str(raised.value)


def test_cache_serves_the_same_key_and_notices_a_replaced_file(tmp_path: Path) -> None:
    key = ca.generate_key()
    keys.write_key(tmp_path, "a.key", key, PASSPHRASE)
    first = keys.load_key(tmp_path, "a.key", PASSPHRASE)
    assert keys.load_key(tmp_path, "a.key", PASSPHRASE) is first
    (tmp_path / "a.key").unlink()
    keys.write_key(tmp_path, "a.key", ca.generate_key(), PASSPHRASE)
    assert keys.load_key(tmp_path, "a.key", PASSPHRASE).public_key() != key.public_key()
    keys.clear_key_cache()


def test_cache_notices_a_file_rewritten_in_place_with_its_old_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "a.key"
    keys.write_key(tmp_path, "a.key", ca.generate_key(), PASSPHRASE)
    first = keys.load_key(tmp_path, "a.key", PASSPHRASE)
    before = path.stat()
    replacement = tmp_path / "replacement"
    while True:  # a key whose encrypted file has the same length
        keys.write_key(replacement, "b.key", ca.generate_key(), PASSPHRASE)
        pem = (replacement / "b.key").read_bytes()
        (replacement / "b.key").unlink()
        if len(pem) == before.st_size:
            break
    path.write_bytes(pem)  # same inode, same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime
    assert path.stat().st_ino == before.st_ino and path.stat().st_mtime_ns == before.st_mtime_ns
    assert keys.load_key(tmp_path, "a.key", PASSPHRASE).public_key() != first.public_key()
    keys.clear_key_cache()


def test_no_overwrite_no_traversal_no_missing(tmp_path: Path) -> None:
    keys.write_key(tmp_path, "b.key", ca.generate_key(), PASSPHRASE)
    with pytest.raises(KeyUnavailable):
        keys.write_key(tmp_path, "b.key", ca.generate_key(), PASSPHRASE)
    for bad in ("../b.key", "/etc/passwd", "b.pem", ".hidden.key"):
        with pytest.raises(KeyUnavailable):
            keys.load_key(tmp_path, bad, PASSPHRASE)
    with pytest.raises(KeyUnavailable, match="missing"):
        keys.load_key(tmp_path, "absent.key", PASSPHRASE)


def test_reprs_carry_no_secrets(pki: Pki) -> None:
    signer = pki.signer()
    assert "private_key" not in repr(signer)
    assert PASSPHRASE.decode() not in repr(pki.settings)
    assert "passphrase" not in repr(pki.settings)


def test_a_key_file_loosened_by_a_restore_is_made_private_again_when_used(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    """A restore or a hand copy left a seal key readable by every local account: the next
    signature makes it 0600 again and the log says so, rather than the next `init`."""
    keys.write_key(tmp_path, "seal-a.key", ca.generate_key(), PASSPHRASE)
    os.chmod(tmp_path / "seal-a.key", 0o644)
    with caplog.at_level("WARNING", logger="seals.keys"):
        keys.load_key(tmp_path, "seal-a.key", PASSPHRASE)
    keys.clear_key_cache()
    assert stat.S_IMODE((tmp_path / "seal-a.key").stat().st_mode) == 0o600
    assert any("seal-a.key" in record.getMessage() and "644" in record.getMessage() for record in caplog.records)


def test_a_new_key_and_a_new_secret_are_on_disk_before_they_are_used(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A seal's key, and an encryption key, is written before the database commit that puts it in
    use: a power cut after that commit must not find the file empty or its name missing. Each is
    flushed to disk (fsync), and so is its folder's entry for it (observed, not replaced)."""
    from api.secrets import add_encryption_key, ensure_secrets
    from api.settings import Settings

    synced: list[int] = []
    real_fsync = os.fsync

    def observed(descriptor: int) -> None:
        synced.append(os.fstat(descriptor).st_ino)
        real_fsync(descriptor)
    monkeypatch.setattr(os, "fsync", observed)

    keys.write_key(tmp_path / "keys", "a.key", ca.generate_key(), PASSPHRASE)
    assert {(tmp_path / "keys" / "a.key").stat().st_ino, (tmp_path / "keys").stat().st_ino} <= set(synced)
    settings = Settings(var_dir=tmp_path / "var", database_url="sqlite://", public_url="http://127.0.0.1:8000")
    ensure_secrets(settings)  # as init makes them: these are synced as they are written, too
    key_id = add_encryption_key(settings)
    folder = settings.secrets_dir / "encryption-keys"
    assert {(folder / str(key_id)).stat().st_ino, folder.stat().st_ino} <= set(synced)
