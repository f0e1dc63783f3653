"""What `mianzheng init` sets up in demo mode (`api.initialise`, through `api.extensions`), each
step safe to repeat: the development identity provider's key, the demo source departments'
databases (var/sources/), the demo public-housing tenants enrolled for the annual re-check, and
the demo residents' and companies' e-licenses."""

from __future__ import annotations

from api.application_services import build_handling_context
from api.license_services import build_library
from api.runtime import Runtime
from api.settings import Settings
from catalog.loading import bundled_catalog_path, load_catalog
from demo.data import DEFAULT_RESIDENTS, DEFAULT_SEED, DemoDataMissing, generate_demo_sources
from demo.identity_provider import DevIdentityProvider
from demo.library import fill_demo_library
from demo.tenancies import DEMO_DEPARTMENT, enrol_demo_tenancies
from exchange.applications.recheck import NoRecheck


def initialise(settings: Settings) -> list[str]:
    """Bring the demo up to date; returns what was done, one line per step, in Chinese."""
    DevIdentityProvider.open(settings.dev_idp_dir)
    return [f"开发测试用身份认证已启用（密钥位于 {settings.dev_idp_dir}），切勿用于生产环境。",
            _demo_sources(settings), _demo_tenancies(settings), _demo_licenses(settings)]


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
