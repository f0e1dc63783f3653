"""A city's own root CA brought to `mianzheng init --ca-cert --ca-key` (or `seal init-ca --cert
--key`): the files read and checked before anything is written, and the Chinese line that says
why material was refused. Neither the key nor its passphrase is ever printed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from api.cli.context import CliError
from catalog.city_time import beijing_time
from seals.ca import CityCa, load_ca_material
from seals.errors import CaMaterialFault, InvalidCaMaterial
from seals.settings import SealSettings

CA_MATERIAL_FAULTS_ZH = {
    CaMaterialFault.UNREADABLE_CERTIFICATE: "无法读取根证书：应为 PEM 格式的 X.509 证书",
    CaMaterialFault.UNREADABLE_KEY: "无法读取根证书私钥：应为 PEM 格式，加密的私钥须用口令文件给出正确口令",
    CaMaterialFault.NOT_A_CA: "所给证书不是 CA 证书（basicConstraints 须为 CA:true），不能作城市根证书",
    CaMaterialFault.CANNOT_SIGN: "所给根证书的密钥用法不允许签发证书和吊销列表（keyCertSign、cRLSign）",
    CaMaterialFault.NOT_YET_VALID: "所给根证书尚未生效",
    CaMaterialFault.EXPIRED: "所给根证书已过期",
    CaMaterialFault.NOT_P256: "根证书私钥须为 ECDSA P-256 密钥",
    CaMaterialFault.KEY_MISMATCH: "私钥与根证书不匹配（不是该证书的私钥）",
    CaMaterialFault.NOT_SELF_SIGNED: "所给证书不是自签名的根证书（由其他 CA 签发），不能作城市信任锚",
    CaMaterialFault.NO_KEY_IDENTIFIER: "所给根证书没有主体密钥标识（subjectKeyIdentifier，RFC 5280 要求 CA 证书具备），"
                                       "其签发的印章证书无法指向它",
}


def refused_root(error: InvalidCaMaterial) -> CliError:
    """The one-line Chinese error for material that cannot serve as the city root."""
    return CliError(f"不能采用所给根证书：{CA_MATERIAL_FAULTS_ZH[error.fault]}。未作任何更改。")


def read_city_root(cert_file: Path, key_file: Path, key_passphrase_file: Path | None) -> CityCa:
    """The city's root certificate and key from its files, checked; `CliError` when refused."""
    passphrase = key_passphrase_file.read_bytes().strip() if key_passphrase_file else None
    try:
        root = load_ca_material(cert_file.read_bytes(), key_file.read_bytes(), passphrase)
    except InvalidCaMaterial as error:
        raise refused_root(error) from None
    ends = root.certificate.not_valid_after_utc
    if ends - datetime.now(timezone.utc) < timedelta(days=SealSettings.seal_validity_days):
        click.echo(f"注意：所给根证书 {beijing_time(ends, '%Y-%m-%d %H:%M')}（北京时间）到期，早于印章证书应有的 "
                   f"{SealSettings.seal_validity_days} 天有效期：由它签发的印章都将随它一同到期，届时须换用新的根证书。",
                   err=True)
    return root
