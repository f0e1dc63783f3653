"""`mianzheng keys ...`: the encryption keyring — what each key holds, adding a key, moving the
sealed data to the current key, retiring a key nothing is sealed under any more (each an entry
of the access log's chain naming the operator). Key values are never printed; key files are
written with mode 0600. The key under which ID numbers are looked
up does not rotate (see docs/operations.md).
"""

from __future__ import annotations

import click

from api.cli.context import EXIT_NOT_FOUND, EXIT_NOT_READY, CliError, database_session, settings
from api.secrets import SecretMissing, add_encryption_key, read_keyring, remove_encryption_key
from exchange.keyring import Keyring, KeyNotInKeyring
from exchange.operation_codes import Operation
from exchange.operations import console_operator, record_operation


@click.group("keys")
def keys_group() -> None:
    """加密密钥环：查看、轮换、重新加密、停用旧密钥（不显示密钥内容）。"""


def _keyring() -> Keyring:
    try:
        return read_keyring(settings())
    except SecretMissing as error:
        raise CliError(f"密钥不可用：{error}", EXIT_NOT_READY) from None


@keys_group.command("status")
def status_command() -> None:
    """列出密钥环中的密钥编号、当前密钥，以及每个密钥下仍加密保存的数据条数。"""
    from exchange.reencryption import values_under

    keyring = _keyring()
    with database_session() as session:
        counts = values_under(session)
    for key_id in sorted(set(keyring.key_ids) | set(counts)):
        state = "当前" if key_id == keyring.current_id else ("在用" if key_id in keyring.key_ids else "缺失")
        click.echo(f"密钥 {key_id}  {state}  加密数据 {counts.get(key_id, 0)} 条")


@keys_group.command("rotate")
def rotate_command() -> None:
    """生成新的加密密钥（此后新数据用它加密），旧密钥保留以便读取旧数据。"""
    from api.database import make_engine
    from api.secret_checks import encryption_key_fingerprint, record_fingerprints

    try:
        key_id = add_encryption_key(settings())
    except SecretMissing as error:
        raise CliError(f"无法生成密钥：{error}", EXIT_NOT_READY) from None
    engine = make_engine(settings().database_url)
    try:  # the database knows the key from now on: a restore without it is told at init
        record_fingerprints(engine, encryption_key_fingerprint(settings(), key_id))
    finally:
        engine.dispose()
    _record(Operation.ENCRYPTION_KEY_ADDED, key_id)
    click.echo(f"已生成加密密钥 {key_id}（权限 0600），新数据将用它加密；运行中的服务会自动读到它，无需重启。"
               f"随后运行 mianzheng keys reencrypt 把已有数据改用新密钥。")


@keys_group.command("reencrypt")
@click.option("--batch", default=200, show_default=True, type=click.IntRange(1, 10_000), help="每个事务处理的条数")
def reencrypt_command(batch: int) -> None:
    """把仍由旧密钥加密的数据改用当前密钥加密（可中断，重新运行即从中断处继续）。"""
    from api.database import make_engine, make_session_factory
    from exchange.reencryption import reencrypt

    keyring = _keyring()
    engine = make_engine(settings().database_url)
    total = 0
    try:
        for _label, count in reencrypt(make_session_factory(engine), keyring, batch):
            total += count
    except KeyNotInKeyring as error:
        raise CliError(f"有数据由密钥环中已没有的密钥加密（{error}），无法读取。", EXIT_NOT_FOUND) from None
    finally:
        engine.dispose()
    _record(Operation.VALUES_REENCRYPTED, keyring.current_id, str(total))
    click.echo(f"已改用密钥 {keyring.current_id} 重新加密 {total} 条数据。")


@keys_group.command("retire")
@click.argument("key_id", type=int)
def retire_command(key_id: int) -> None:
    """停用旧密钥 KEY_ID：仅当已无数据由它加密、且它不是当前密钥时删除其密钥文件。"""
    from exchange.reencryption import values_under

    keyring = _keyring()
    if key_id not in keyring.key_ids:
        raise CliError(f"密钥环中没有密钥 {key_id}。", EXIT_NOT_FOUND)
    if key_id == keyring.current_id:
        raise CliError(f"密钥 {key_id} 是当前密钥，不能停用；请先运行 mianzheng keys rotate。")
    with database_session() as session:
        remaining = values_under(session).get(key_id, 0)
    if remaining:
        raise CliError(f"仍有 {remaining} 条数据由密钥 {key_id} 加密；请先运行 mianzheng keys reencrypt。")
    try:
        remove_encryption_key(settings(), key_id)
    except SecretMissing as error:
        raise CliError(f"无法删除密钥：{error}", EXIT_NOT_READY) from None
    _record(Operation.ENCRYPTION_KEY_RETIRED, key_id)
    click.echo(f"已停用密钥 {key_id}。")


def _record(operation: Operation, key_id: int, detail: str | None = None) -> None:
    """The operation's entry in the access log's chain, naming the operator and the key."""
    with database_session() as session:
        record_operation(session, operation, console_operator(), str(key_id), detail=detail)
