"""Set-up of a mianzheng installation, safe to repeat: the data directory and secrets, the
schema (Alembic migrations), the bundled catalog as the first live version, the city CA
(generated here, or the city's own root brought to `init --ca-cert`) with a first seal for
every catalog department, and the CRL and status list signed again when they are
due; in demo mode, what the demo part sets up as well (`demo.setup`, through `api.extensions`).
The schema upgrade and the first seals are done once per version of the migrations and of the
published catalog (`api.setup_steps`): a later run skips them after one read each, without
loading Alembic or parsing the catalog. When the public address changed since the last run (`scripts/serve --port N`), the seals are
rotated so their certificates name the CRL at the new address, and the status lists are signed
again under it."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, make_url, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.database import make_engine, make_session_factory, transaction
from api.catalog_publication import catalog_names, seal_renames
from api.extensions import demo_extension
from api.license_services import build_library
from api.migrations import migrations_digest, upgrade_database
from api.seal_config import CRL_PATH, seal_settings, status_list_signing
from api.secret_checks import checked_secrets, record_fingerprints
from api.secrets import ENCRYPTION_KEYS_DIR
from api.runtime import Runtime
from api.settings import Settings, former_public_urls, record_public_url, recorded_public_url
from api.setup_steps import done_version, run_once
from catalog.city_time import beijing_time
from catalog.loading import bundled_catalog_path, load_catalog
from core.private_files import private_dir, private_file
from catalog.versions import latest_version
from exchange.licenses.service import sealed_by_compromised_seal
from exchange.operation_codes import Operation
from exchange.operations import (console_operator, live_catalog_as_published, publish_recorded, record_crl_signed,
                                 record_operation)
from exchange.status_list_kinds import STATUS_LIST_NAMES_ZH, STATUS_LISTS
from exchange.status_lists import list_ids, refresh_status_list
from seals.ca import CityCa, crl_urls
from seals.compromise import compromised_seals
from seals.errors import CaAlreadyExists
from seals.settings import SealSettings
from seals.registry import (
    Seal,
    SealCa,
    SealStatus,
    active_seal,
    import_ca,
    init_ca,
    issue_seal,
    list_seals,
    refresh_crl,
    rotate_seals_to_crl_url,
    seals_ending,
)


def _private_key_material(settings: Settings) -> int:
    """Make the folders of seal keys and secrets 0700 and their files 0600, whatever a copy, a
    restore or a hand made of them; how many were not."""
    tightened = 0
    for folder in (settings.key_dir, settings.secrets_dir, settings.secrets_dir / ENCRYPTION_KEYS_DIR):
        if not folder.is_dir():
            continue
        if stat.S_IMODE(folder.stat().st_mode) != 0o700:
            private_dir(folder)
            tightened += 1
        for path in folder.iterdir():
            if path.is_file() and stat.S_IMODE(path.stat().st_mode) != 0o600:
                private_file(path)
                tightened += 1
    return tightened


def initialise(settings: Settings, *, city_root: CityCa | None = None) -> list[str]:
    """Bring an installation up to date; returns what was done, one line per step, in Chinese.

    `city_root` (checked by `seals.ca.load_ca_material`) is adopted as the city CA when there is
    none yet; an installation that has a different one raises `CaAlreadyExists`."""
    report: list[str] = []
    private_dir(settings.var_dir)
    engine = make_engine(settings.database_url)
    try:
        report.append(_upgrade_schema(engine, settings.database_url))
        _private_database(settings.database_url)
        secrets = checked_secrets(engine, settings)
        if secrets.created:
            report.append(f"已生成本地密钥材料：{'、'.join(secrets.created)}（位于 {settings.secrets_dir}，权限 0600）。")
        settings, moved = _public_address(engine, settings, report)
        tightened = _private_key_material(settings)
        if tightened:
            report.append(f"已将 {tightened} 个存放密钥的文件或目录的权限收紧为仅本用户可读（0600/0700）。")
        with transaction(make_session_factory(engine)) as session:
            report.append(_publish_bundled_catalog(session))
        report.extend(_first_seals(engine, settings, city_root))
        with transaction(make_session_factory(engine)) as session:  # its entries hold the chain's lock: alone
            report.extend(_seals_at_public_url(session, settings))
        with transaction(make_session_factory(engine)) as session:
            report.extend(_signed_lists(session, settings))
            report.extend(_seals_ending(session))
            report.extend(seal_renames(session, live_catalog_as_published(session)))
            report.extend(licenses_to_reseal(session, settings))
        # recorded once everything above held: a run refused half-way (a secret missing, a key
        # file that does not open) leaves no address and no fingerprint a later run would trust
        if moved:
            record_public_url(settings.var_dir, settings.public_url, settings.former_public_urls)
        record_fingerprints(engine, secrets.fingerprints)
    finally:
        engine.dispose()
    demo = demo_extension(settings)
    if demo is not None:
        report.extend(demo.initialise(settings))
    return report


def _public_address(engine: Engine, settings: Settings, report: list[str]) -> tuple[Settings, bool]:
    """The installation's public address, and whether to record it (at the end of the run) under
    var/ with the ones it had before. The database knows them too, by the CRL address in its
    seals' certificates: a database restored beside a var/ without that record keeps its seals'
    address when none is given (not the default), and every address its seals named is kept as a
    former one, so the certificates whose status lists name it still verify, online and in an
    export, when another is given."""
    with Session(engine) as session:
        seals = [(seal.status, address) for seal in session.scalars(select(Seal).order_by(Seal.id.desc()))
                 for address in _seal_addresses(seal)]
    in_use = {address for status, address in seals if status == SealStatus.ACTIVE}
    recorded = recorded_public_url(settings.var_dir)
    if recorded is None and len(in_use) == 1 and not (settings.environ or {}).get("MIANZHENG_PUBLIC_URL"):
        settings = replace(settings, public_url=in_use.pop())
        report.append(f"var/ 中没有本机对外地址的记录，沿用数据库中电子印章所用的地址 {settings.public_url}"
                      "（如需更改，请设置 MIANZHENG_PUBLIC_URL 后再运行 init）。")
    named = [address for _status, address in seals]  # newest first
    if recorded == settings.public_url and not set(named) - {settings.public_url, *settings.former_public_urls}:
        return settings, False
    settings = replace(settings, former_public_urls=former_public_urls(settings.var_dir, settings.public_url, named))
    report.append(f"本机对外地址记为 {settings.public_url}（二维码、状态列表和印章证书中的地址）。")
    return settings, True


def _seal_addresses(seal: Seal) -> list[str]:
    """The public addresses a seal's certificate names, by its CRL's address."""
    return [url.removesuffix(CRL_PATH) for url in crl_urls(seal.certificate)
            if url.endswith(CRL_PATH)]


def _private_database(database_url: str) -> None:
    """An SQLite database file (and its write-ahead files, which SQLite creates with the
    database's mode) readable by the installation's user only: it holds personal data."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        private_file(Path(url.database))


def _upgrade_schema(engine: Engine, database_url: str) -> str:
    """The migrations, skipped when this database was last upgraded by the same migration files;
    what was done, as the report says it. Alembic's upgrade is a transaction of its own; the
    record follows it, so a start that dies in between upgrades again (a no-op) next time."""
    digest = migrations_digest()
    try:
        done = done_version(engine, "schema")
    except SQLAlchemyError:  # a new database: no setup_steps table yet
        done = None
    if done == digest:
        return "数据库结构已是最新。"
    upgrade_database(database_url)
    run_once(engine, "schema", digest, lambda _sessions: None)
    return "已建立数据库结构。" if done is None else "数据库结构已升级到最新版本。"


def _publish_bundled_catalog(session: Session) -> str:
    live = latest_version(session)
    if live is not None:
        return f"现行目录为第 {live.number} 版，保持不变。"
    outcome = publish_recorded(session, load_catalog(bundled_catalog_path()), "mianzheng init", "随附目录",
                               console_operator())
    return f"已发布随附目录，第 {outcome.version.number} 版。"


def _signed_lists(session: Session, settings: Settings) -> list[str]:
    """The CRL and the certificate status list signed again when they are due (init runs before
    every `scripts/serve`; a production installation runs `mianzheng seal crl` daily as well)."""
    report = []
    now = datetime.now(timezone.utc)
    if refresh_crl(session, seal_settings(settings), now=now):
        record_crl_signed(session, console_operator(), forced=False)
        report.append("已签发印章证书吊销列表（CRL）。")
    signing = status_list_signing(settings, seal_settings(settings))
    for kind in STATUS_LISTS:
        for list_id in list_ids(session, kind):
            if refresh_status_list(session, kind, list_id, signing, now):
                report.append(f"已签发状态列表 {list_id}（{STATUS_LIST_NAMES_ZH[kind.name]}）。")
    return report


def _seals_ending(session: Session) -> list[str]:
    """A warning for each department whose seal ends within `SEAL_WARNING` or has ended (lapsed, or
    revoked and not replaced): the seals `init` issued together end together, and a department
    without one signs nothing."""
    now = datetime.now(timezone.utc)
    return [f"注意：{code} 的电子印章已于 {beijing_time(ends)}（北京时间）失效（到期或被吊销），该部门不能签发任何文书；"
            f"请由印章管理员运行 mianzheng seal issue {code} 签发新印章。" if ends <= now else
            f"注意：{code} 的电子印章将于 {beijing_time(ends)}（北京时间）到期，请由印章管理员运行 "
            f"mianzheng seal rotate {code} 更换；到期后该部门不能签发任何文书。"
            for code, ends in seals_ending(session, now).items()]


def licenses_to_reseal(session: Session, settings: Settings) -> list[str]:
    """A notice for each department holding a license in force sealed by a seal it had revoked for
    key compromise (`sealed_by_compromised_seal`): its holders see 已失效 and every 用证 of it is
    refused until `mianzheng license reseal` issues it again. The library (the license keys) is
    opened only when some seal was revoked so."""
    departments = sorted({seal.department for seal in compromised_seals(session).seals})
    if not departments:
        return []
    current = Runtime.start(settings)
    try:
        library = build_library(current, live_catalog_as_published(session))
        return [f"注意：{code} 有证照由其因密钥泄露被吊销的电子印章签发，持证人看到“已失效”，部门用证将被拒绝；"
                f"请在该部门有新印章后运行 mianzheng license reseal {code} 重新签发。"
                for code in departments if next(sealed_by_compromised_seal(session, library, code), None) is not None]
    finally:
        current.engine.dispose()


def _seals_at_public_url(session: Session, settings: Settings) -> list[str]:
    """Every active seal's certificate naming the CRL at this installation's public address: the
    seals whose certificates name another (the address changed) are rotated, as the seal officer
    does with `mianzheng seal rotate`. Certificates issued before keep their own addresses."""
    config = seal_settings(settings)
    rotated = rotate_seals_to_crl_url(session, config, catalog_names(live_catalog_as_published(session)))
    if not rotated:
        return []
    for department in rotated:
        serial = active_seal(session, department).serial_hex
        record_operation(session, Operation.SEAL_ROTATED, console_operator(), serial, department=department,
                         detail="public-address-changed")
    return [f"对外地址已变更：已为 {len(rotated)} 个部门轮换电子印章，新印章证书中的吊销列表地址为 {config.crl_url}"
            "（此前签章的文件仍可用原印章证书核验）。"]


def _first_seals(engine: Engine, settings: Settings, city_root: CityCa | None) -> list[str]:
    """A city CA if there is none (the city's own root when given), and a first seal for each
    department that never had one: the starting state of every installation, demo or not. The
    seals are done once per published catalog version (its content hash names the departments);
    a given root is checked every time, so a different one is refused even then.

    A department whose seal was revoked or expired gets no new one here: that is the seal
    officer's decision (`mianzheng seal issue` / `seal rotate`).
    """
    report = []
    if city_root is not None:
        with transaction(make_session_factory(engine)) as session:
            report = _city_ca(session, seal_settings(settings), city_root)
    with Session(engine) as session:
        live = latest_version(session)
        assert live is not None, "the bundled catalog is published first"
        content_hash = live.content_hash
    return report + (run_once(engine, "first-seals", content_hash,
                              lambda sessions: _issue_first_seals(sessions, settings)) or [])


def _issue_first_seals(sessions: sessionmaker[Session], settings: Settings) -> list[str]:
    config = seal_settings(settings)
    with sessions() as session, session.begin():
        report = _city_ca(session, config, None)
        catalog = live_catalog_as_published(session)
        sealed = {seal.department_code for seal in list_seals(session)}
        issued = []
        for department in catalog.departments.values():
            if department.code not in sealed:
                seal = issue_seal(session, config, department_code=department.code,
                                  department_name=department.legal_name_zh, uscc=department.uscc)
                record_operation(session, Operation.SEAL_ISSUED, console_operator(), seal.serial_hex,
                                 department=seal.department_code, detail=seal.purpose_zh)
                issued.append(department.code)
    if issued:
        report.append(f"已为 {len(issued)} 个部门签发电子印章：{'、'.join(issued)}。")
    return report


def _city_ca(session: Session, config: SealSettings, city_root: CityCa | None) -> list[str]:
    """The city CA: kept when there is one (the same as `city_root`, if given), else created here
    or adopted from `city_root`."""
    existing = session.scalars(select(SealCa)).first()
    if existing is not None:
        if city_root is not None and existing.certificate != city_root.certificate:
            raise CaAlreadyExists(existing.subject)
        return ["城市根证书即所给根证书，保持不变。"] if city_root is not None else []
    if city_root is not None:
        row = import_ca(session, config, city_root)
        record_operation(session, Operation.CITY_ROOT_SET_UP, console_operator(), row.serial_hex, detail="imported")
        return [f"已导入城市电子印章根证书：{row.subject}（私钥以本机口令加密保存）。"]
    row = init_ca(session, config)
    record_operation(session, Operation.CITY_ROOT_SET_UP, console_operator(), row.serial_hex, detail="created")
    return ["已创建城市电子印章根证书（本机生成）。"]
