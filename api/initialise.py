"""Set-up of a mianzheng installation, safe to repeat: the data directory and secrets, the
schema (Alembic migrations), the bundled catalog as the first live version, and the demo
city CA with a seal for every catalog department, the demo source departments'
databases (var/sources/), the demo public-housing tenants enrolled for the annual re-check,
the demo residents' and companies' e-licenses, and the CRL and status list signed again when
they are due. When the public address changed since the last run (`scripts/serve --port N`),
the seals are rotated so their certificates name the CRL at the new address, and the status
lists are signed again under it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.application_services import build_handling_context
from api.database import standalone_session
from api.license_services import build_library
from api.migrations import upgrade_database
from api.runtime import Runtime
from api.seal_config import seal_settings, status_list_signing
from api.secrets import ensure_secrets
from api.settings import Settings, record_public_url, recorded_public_url
from catalog.loading import bundled_catalog_path, load_catalog
from catalog.versions import latest_version, publish, read_live_catalog
from exchange.applications.recheck import NoRecheck
from exchange.applications.tenancies import DEMO_DEPARTMENT, enrol_demo_tenancies
from exchange.sources.demo_data import DEFAULT_RESIDENTS, DEFAULT_SEED, DemoDataMissing, generate_demo_sources
from exchange.identity import DevIdentityProvider
from exchange.licenses.demo_library import fill_demo_library
from exchange.status_list_kinds import STATUS_LIST_NAMES_ZH, STATUS_LISTS
from exchange.status_lists import list_ids, refresh_status_list
from seals.registry import SealCa, init_ca, issue_seal, list_seals, refresh_crl, rotate_seals_to_crl_url


def initialise(settings: Settings) -> list[str]:
    """Bring an installation up to date; returns what was done, one line per step, in Chinese."""
    report: list[str] = []
    settings.var_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if recorded_public_url(settings.var_dir) != settings.public_url:
        settings = replace(settings, former_public_urls=record_public_url(settings.var_dir, settings.public_url))
        report.append(f"本机对外地址记为 {settings.public_url}（二维码、状态列表和印章证书中的地址）。")
    created = ensure_secrets(settings)
    if created:
        report.append(f"已生成本地密钥材料：{'、'.join(created)}（位于 {settings.secrets_dir}，权限 0600）。")
    upgrade_database(settings.database_url)
    report.append("数据库结构已是最新。")
    if settings.dev_idp:
        DevIdentityProvider.open(settings.dev_idp_dir)
        report.append(f"开发测试用身份认证已启用（密钥位于 {settings.dev_idp_dir}），切勿用于生产环境。")
    with standalone_session(settings.database_url) as session:
        report.append(_publish_bundled_catalog(session))
        report.extend(_demo_seals(session, settings))
        report.extend(_seals_at_public_url(session, settings))
        report.extend(_signed_lists(session, settings))
    report.append(_demo_sources(settings))
    report.append(_demo_tenancies(settings))
    report.append(_demo_licenses(settings))
    return report


def _demo_licenses(settings: Settings) -> str:
    """The demo residents' and companies' licenses, each imported once (a few seconds)."""
    current = Runtime.start(settings)
    try:
        reports = fill_demo_library(current.sessions, build_library(current, current.published_catalog()[0]),
                                    settings.sources_dir)
    except DemoDataMissing:
        return "没有演示数据，未签发演示电子证照。"
    finally:
        current.engine.dispose()
    imported = sum(report.imported for report in reports.values())
    if not imported:
        return "演示电子证照均已签发，保持不变。"
    return f"已为演示居民和企业签发电子证照 {imported} 本（{len(reports)} 个发证部门）。"


def _demo_sources(settings: Settings) -> str:
    """The demo source departments' own databases, generated once (about 2 s)."""
    if settings.sources_dir.exists():
        return f"演示数据源目录 {settings.sources_dir} 已存在，保持不变。"
    written = generate_demo_sources(settings.sources_dir, load_catalog(bundled_catalog_path()))
    return (f"已生成演示数据源：{len(written)} 个部门的数据库，{DEFAULT_RESIDENTS} 名居民"
            f"（种子 {DEFAULT_SEED}），位于 {settings.sources_dir}。")


def _demo_tenancies(settings: Settings) -> str:
    """The demo public-housing tenants as tenancies for the annual re-check, each enrolled once (about 1 s)."""
    current = Runtime.start(settings)
    try:
        enrolment = enrol_demo_tenancies(build_handling_context(current, *current.published_catalog()),
                                         settings.sources_dir)
    except (DemoDataMissing, NoRecheck):
        return "现行目录或演示数据中没有公租房年度复核所需的内容，未登记演示在租家庭。"
    finally:
        current.engine.dispose()
    if not enrolment.enrolled:
        return f"演示公租房在租家庭（{enrolment.tenants} 户）均已登记，保持不变。"
    return (f"已登记演示公租房在租家庭 {enrolment.enrolled} 户（年度复核用，办理部门 {DEMO_DEPARTMENT}，"
            f"柜台授权有效期一年）。")


def _publish_bundled_catalog(session: Session) -> str:
    live = latest_version(session)
    if live is not None:
        return f"现行目录为第 {live.number} 版，保持不变。"
    outcome = publish(session, load_catalog(bundled_catalog_path()), published_by="mianzheng init", note="随附目录")
    return f"已发布随附目录，第 {outcome.version.number} 版。"


def _signed_lists(session: Session, settings: Settings) -> list[str]:
    """The CRL and the certificate status list signed again when they are due (init runs before
    every `scripts/serve`; a production installation runs `mianzheng seal crl` daily as well)."""
    report = []
    now = datetime.now(timezone.utc)
    if refresh_crl(session, seal_settings(settings), now=now):
        report.append("已签发印章证书吊销列表（CRL）。")
    signing = status_list_signing(settings, seal_settings(settings))
    for kind in STATUS_LISTS:
        for list_id in list_ids(session, kind):
            if refresh_status_list(session, kind, list_id, signing, now):
                report.append(f"已签发状态列表 {list_id}（{STATUS_LIST_NAMES_ZH[kind.name]}）。")
    return report


def _seals_at_public_url(session: Session, settings: Settings) -> list[str]:
    """Every active seal's certificate naming the CRL at this installation's public address: the
    seals whose certificates name another (the address changed) are rotated, as the seal officer
    does with `mianzheng seal rotate`. Certificates issued before keep their own addresses."""
    config = seal_settings(settings)
    rotated = rotate_seals_to_crl_url(session, config)
    if not rotated:
        return []
    return [f"对外地址已变更：已为 {len(rotated)} 个部门轮换电子印章，新印章证书中的吊销列表地址为 {config.crl_url}"
            "（此前签章的文件仍可用原印章证书核验）。"]


def _demo_seals(session: Session, settings: Settings) -> list[str]:
    """A city CA if there is none, and a first seal for each department that never had one.

    A department whose seal was revoked or expired gets no new one here: that is the seal
    officer's decision (`mianzheng seal issue` / `seal rotate`).
    """
    report = []
    config = seal_settings(settings)
    if session.scalars(select(SealCa)).first() is None:
        init_ca(session, config)
        report.append("已创建城市电子印章根证书（演示用）。")
    catalog = read_live_catalog(session)
    sealed = {seal.department_code for seal in list_seals(session)}
    issued = []
    for department in catalog.departments.values():
        if department.code not in sealed:
            issue_seal(session, config, department_code=department.code,
                       department_name=department.legal_name_zh, uscc=department.uscc)
            issued.append(department.code)
    if issued:
        report.append(f"已为 {len(issued)} 个部门签发电子印章：{'、'.join(issued)}。")
    return report
