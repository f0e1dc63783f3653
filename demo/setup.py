"""What `mianzheng init` sets up in demo mode (`api.initialise`, through `api.extensions`), each
step safe to repeat: the development identity provider's key, the demo source departments'
databases (var/sources/), the demo public-housing tenants enrolled for the annual re-check, and
the demo residents' and companies' e-licenses. The tenants and the licenses are set-up steps
(`api.setup_steps`) done once per demo data set and live catalog version: a later start skips
them without building the demo population."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from api.application_services import build_handling_context
from api.license_services import build_library
from api.runtime import Runtime
from api.settings import Settings
from api.setup_steps import run_once
from catalog.errors import NoCatalogPublished
from catalog.loading import bundled_catalog_path, load_catalog
from catalog.versions import latest_version
from demo.data import (DEFAULT_RESIDENTS, DEFAULT_SEED, DemoDataMissing, demo_dataset, generate_demo_sources,
                       outdated_dataset)
from demo.identity_provider import DevIdentityProvider
from demo.library import COMPANIES, FIRST_PEOPLE, SAMPLE_RESIDENTS, fill_demo_library
from demo.tenancies import DEMO_DEPARTMENT, DemoEnrolment, enrol_demo_tenancies
from exchange.applications.recheck import NoRecheck
from exchange.licenses.bulk_import import ImportReport

TENANCIES_STEP = "demo-tenancies"
LICENSES_STEP = "demo-licenses"


def initialise(settings: Settings) -> list[str]:
    """Bring the demo up to date; returns what was done, one line per step, in Chinese."""
    DevIdentityProvider.open(settings.dev_idp_dir)
    report = [f"开发测试用身份认证已启用（密钥位于 {settings.dev_idp_dir}），切勿用于生产环境。",
              _demo_sources(settings)]
    current = Runtime.start(settings)
    try:
        return [*report, _demo_tenancies(current), _demo_licenses(current)]
    finally:
        current.engine.dispose()


def step_version(current: Runtime, *settings: object) -> str:
    """The inputs of a demo step: the demo data set (generated again, it is a new one), the live
    catalog version and the step's own `settings`; DemoDataMissing without demo data."""
    dataset = demo_dataset(current.settings.sources_dir)
    with current.sessions() as session:
        live = latest_version(session)
    if live is None:
        raise NoCatalogPublished("no catalog has been published yet")
    inputs = json.dumps([dataset, live.content_hash, *settings], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(inputs.encode()).hexdigest()


def _demo_licenses(current: Runtime) -> str:
    """The demo residents' and companies' licenses, each imported once (a few seconds)."""
    def fill(sessions: sessionmaker[Session]) -> dict[str, ImportReport]:
        return fill_demo_library(sessions, build_library(current, current.published_catalog()[0]),
                                 current.settings.sources_dir)

    try:
        reports = run_once(current.engine, LICENSES_STEP,
                           step_version(current, SAMPLE_RESIDENTS, FIRST_PEOPLE, COMPANIES), fill)
    except DemoDataMissing:
        return "没有演示数据，未签发演示电子证照。"
    imported = sum(report.imported for report in (reports or {}).values())
    if not imported:
        return "演示电子证照均已签发，保持不变。"
    return f"已为演示居民和企业签发电子证照 {imported} 本（{len(reports or {})} 个发证部门）。"


def _demo_sources(settings: Settings) -> str:
    """The demo source departments' own databases, generated once (about 2 s), and again with
    the same seed and size when an earlier version of the generator made them."""
    residents, seed, done = DEFAULT_RESIDENTS, DEFAULT_SEED, "已生成演示数据源"
    if any(settings.sources_dir.glob("*.db")):  # an empty folder (made by hand, or left) is generated into
        outdated = outdated_dataset(settings.sources_dir)
        if outdated is None:
            return f"演示数据源目录 {settings.sources_dir} 已存在，保持不变。"
        residents, seed, done = int(outdated["residents"]), int(outdated["seed"]), "演示数据源由旧版生成器生成，已重新生成"
    written = generate_demo_sources(settings.sources_dir, load_catalog(bundled_catalog_path()), residents, seed)
    return f"{done}：{len(written)} 个部门的数据库，{residents} 名居民（种子 {seed}），位于 {settings.sources_dir}。"


def _demo_tenancies(current: Runtime) -> str:
    """The demo public-housing tenants as tenancies for the annual re-check, each enrolled once (about 1 s)."""
    def enrol(sessions: sessionmaker[Session]) -> DemoEnrolment:
        joined = replace(current, sessions=sessions)
        return enrol_demo_tenancies(build_handling_context(joined, *joined.published_catalog()),
                                    current.settings.sources_dir)

    try:
        enrolment = run_once(current.engine, TENANCIES_STEP, step_version(current, DEMO_DEPARTMENT), enrol)
    except (DemoDataMissing, NoRecheck):
        return "现行目录或演示数据中没有公租房年度复核所需的内容，未登记演示在租家庭。"
    if enrolment is None:
        return "演示公租房在租家庭均已登记，保持不变。"
    if not enrolment.enrolled:
        return f"演示公租房在租家庭（{enrolment.tenants} 户）均已登记，保持不变。"
    return (f"已登记演示公租房在租家庭 {enrolment.enrolled} 户（年度复核用，办理部门 {DEMO_DEPARTMENT}，"
            f"柜台授权有效期一年）。")
