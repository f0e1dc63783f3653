"""What every page says about whose service it is: the city, the host department (主办单位) and
where to ask, for the header and footer of the Chinese pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from api.live_catalog import live_catalog
from api.problems import Problem
from api.runtime import runtime
from catalog.regions import CITY_CODE, region_name

CONTACT_ZH = "12345 政务服务便民热线"


def site_context() -> dict[str, Any]:
    """`site.city`, `site.host` (the department operating the exchange) and `site.contact`;
    an error page still renders when no catalog is published or the database is down."""
    host = f"{region_name(CITY_CODE)}数据资源主管部门"
    try:
        department = live_catalog().catalog.departments.get(runtime().settings.exchange_department)
        host = department.legal_name_zh if department else host
    except (Problem, SQLAlchemyError):
        pass
    return {"site": {"city": region_name(CITY_CODE), "host": host, "contact": CONTACT_ZH}}
