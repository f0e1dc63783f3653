"""A city that has its own root CA brings it to `mianzheng init --ca-cert --ca-key`: the
installation adopts it (key re-encrypted, 0600), every department seal is issued under it, and
material that cannot serve as the city root is refused in Chinese before anything is written."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy import select

from api.cli.context import EXIT_INVALID
from api.database import standalone_session
from api.secrets import KEY_PASSPHRASE
from seals import ca
from seals.registry import Seal, SealCa
from tests.support.cli import cli_environment, run_cli

KEY_PASSPHRASE_OF_THE_CITY = b"the city's own passphrase"


@pytest.fixture
def env(fresh_database: str, tmp_path: Path) -> dict[str, str]:
    """A production installation that `mianzheng init` has not set up yet."""
    return {**cli_environment(fresh_database, tmp_path / "var"), "MIANZHENG_DEV_IDP": "0"}


def _write(folder: Path, certificate: x509.Certificate, key: object, passphrase: bytes | None) -> tuple[Path, Path]:
    folder.mkdir(exist_ok=True)
    cert_file, key_file = folder / "root.pem", folder / "root.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,  # type: ignore[attr-defined]
                                           serialization.PrivateFormat.PKCS8, encryption))
    return cert_file, key_file


def _city_root(tmp_path: Path) -> tuple[ca.CityCa, list[str]]:
    """The city's root, encrypted under its own passphrase, and the init options naming it."""
    root = ca.create_root("衢州市电子印章根证书", "衢州市大数据发展管理局")
    cert_file, key_file = _write(tmp_path / "city-root", root.certificate, root.private_key, KEY_PASSPHRASE_OF_THE_CITY)
    passphrase_file = tmp_path / "city-root" / "passphrase"
    passphrase_file.write_bytes(KEY_PASSPHRASE_OF_THE_CITY + b"\n")
    return root, ["--ca-cert", str(cert_file), "--ca-key", str(key_file), "--ca-key-passphrase-file", str(passphrase_file)]


def test_init_adopts_the_citys_own_root_and_seals_every_department_under_it(env: dict[str, str], tmp_path: Path) -> None:
    root, options = _city_root(tmp_path)
    result = run_cli(env, "init", *options)
    assert result.returncode == 0, result.stderr
    assert "已导入城市电子印章根证书：" in result.stdout and "衢州市电子印章根证书" in result.stdout
    assert "本机生成" not in result.stdout and "到期" not in result.stderr
    assert "PRIVATE KEY" not in result.stdout + result.stderr

    var = Path(env["MIANZHENG_VAR_DIR"])
    with standalone_session(env["MIANZHENG_DATABASE_URL"]) as session:
        stored = session.scalars(select(SealCa)).one()
        seals = session.scalars(select(Seal)).all()
        assert stored.certificate == root.certificate
        assert seals, "init issued no department seal"
        for seal in seals:
            seal.certificate.verify_directly_issued_by(root.certificate)
        key_file = var / "keys" / stored.key_ref
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    our_passphrase = (var / "secrets" / KEY_PASSPHRASE.file_name).read_bytes().strip()
    adopted = serialization.load_pem_private_key(key_file.read_bytes(), password=our_passphrase)
    assert adopted.private_numbers() == root.private_key.private_numbers()  # type: ignore[union-attr]
    with pytest.raises((TypeError, ValueError)):  # not stored in clear, nor under the city's passphrase
        serialization.load_pem_private_key(key_file.read_bytes(), password=KEY_PASSPHRASE_OF_THE_CITY)

    again = run_cli(env, "init", *options)
    assert again.returncode == 0, again.stderr
    assert "城市根证书即所给根证书，保持不变" in again.stdout


def _expired_root() -> ca.CityCa:
    return ca.create_root(now=ca.utc_now() - ca.ROOT_VALIDITY - timedelta(days=1))


def _seal_certificate_with_its_key() -> tuple[x509.Certificate, object]:
    root = ca.create_root()
    key = ca.generate_key()
    leaf = ca.issue_seal_certificate(root, key.public_key(), department_name="衢州市民政局", uscc="11330800002481234B",
                                     crl_url="http://127.0.0.1/crl", validity=timedelta(days=30))
    return leaf, key


def _intermediate_ca_with_its_key() -> tuple[x509.Certificate, object]:
    """A CA certificate (may sign certificates and CRLs, P-256) that a province's root issued."""
    province = ca.create_root("浙江省电子印章根证书", "浙江省大数据发展管理局")
    key = ca.generate_key()
    city = province.certificate.subject.rfc4514_string().replace("浙江省电子印章根证书", "衢州市电子印章中级证书")
    certificate = (x509.CertificateBuilder()
                   .subject_name(x509.Name.from_rfc4514_string(city))
                   .issuer_name(province.certificate.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(ca.utc_now() - timedelta(days=1))
                   .not_valid_after(ca.utc_now() + timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False, key_agreement=False,
                                                key_cert_sign=True, crl_sign=True, encipher_only=False,
                                                decipher_only=False), critical=True)
                   .sign(province.private_key, hashes.SHA256()))
    return certificate, key


@pytest.mark.parametrize(("material", "passphrase", "said"), [
    (lambda: (ca.create_root().certificate, ca.generate_key()), None, "私钥与根证书不匹配"),
    (_seal_certificate_with_its_key, None, "不是 CA 证书"),
    (_intermediate_ca_with_its_key, None, "不是自签名的根证书"),
    (lambda: (lambda root: (root.certificate, root.private_key))(_expired_root()), None, "已过期"),
    (lambda: (lambda root: (root.certificate, root.private_key))(ca.create_root()), b"wrong", "无法读取根证书私钥"),
], ids=["mismatched-key", "not-a-ca", "intermediate", "expired", "wrong-passphrase"])
def test_init_refuses_material_that_cannot_be_the_city_root_and_writes_nothing(
        env: dict[str, str], tmp_path: Path, material, passphrase: bytes | None, said: str) -> None:
    certificate, key = material()
    cert_file, key_file = _write(tmp_path / "offered", certificate, key, b"right" if passphrase else None)
    options = ["--ca-cert", str(cert_file), "--ca-key", str(key_file)]
    if passphrase:
        (tmp_path / "offered" / "passphrase").write_bytes(passphrase)
        options += ["--ca-key-passphrase-file", str(tmp_path / "offered" / "passphrase")]
    result = run_cli(env, "init", *options)
    assert result.returncode == EXIT_INVALID
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and "PRIVATE KEY" not in result.stdout + result.stderr
    assert not Path(env["MIANZHENG_VAR_DIR"]).exists(), "a refused root left files behind"


def test_a_root_ending_before_its_seals_would_is_adopted_with_a_warning(env: dict[str, str], tmp_path: Path) -> None:
    """A root with two hours left makes seals that end with it: the operator is told at once."""
    root = ca.create_root(now=ca.utc_now() - ca.ROOT_VALIDITY + timedelta(hours=2))
    cert_file, key_file = _write(tmp_path / "short", root.certificate, root.private_key, None)
    result = run_cli(env, "init", "--ca-cert", str(cert_file), "--ca-key", str(key_file))
    assert result.returncode == 0, result.stderr
    assert "注意：所给根证书" in result.stderr and "一同到期" in result.stderr


def test_a_file_that_is_no_certificate_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    _root, options = _city_root(tmp_path)
    options[1] = options[3]  # the key file given as the certificate
    result = run_cli(env, "init", *options)
    assert result.returncode == EXIT_INVALID
    assert "无法读取根证书" in result.stderr and "PRIVATE KEY" not in result.stdout + result.stderr


def test_init_will_not_swap_the_root_of_an_installation_that_has_one(env: dict[str, str], tmp_path: Path) -> None:
    assert run_cli(env, "init").returncode == 0
    with standalone_session(env["MIANZHENG_DATABASE_URL"]) as session:
        before = session.scalars(select(SealCa)).one().certificate_pem
    _root, options = _city_root(tmp_path)
    result = run_cli(env, "init", *options)
    assert result.returncode == EXIT_INVALID
    assert "已有城市根证书" in result.stderr and "不同" in result.stderr
    with standalone_session(env["MIANZHENG_DATABASE_URL"]) as session:
        assert session.scalars(select(SealCa)).one().certificate_pem == before


def test_the_certificate_and_its_key_go_together(env: dict[str, str], tmp_path: Path) -> None:
    _root, options = _city_root(tmp_path)
    result = run_cli(env, "init", *options[:2])
    assert result.returncode == 2 and "--ca-key" in result.stderr


def test_seal_init_ca_points_to_init_for_a_citys_own_root(env: dict[str, str], tmp_path: Path) -> None:
    assert run_cli(env, "init").returncode == 0
    _root, options = _city_root(tmp_path)
    result = run_cli(env, "seal", "init-ca", "--cert", options[1], "--key", options[3],
                     "--key-passphrase-file", options[5])
    assert result.returncode == EXIT_INVALID
    assert "本安装已有城市根证书" in result.stderr and "PRIVATE KEY" not in result.stdout + result.stderr
