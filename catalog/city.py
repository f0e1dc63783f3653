"""The demo city's constants that eligibility rules may read as `city.<name>`.

One place for the thresholds the matters' rules compare against. Values are yuan per month
and fill-ins for the demo city 金华市, not published figures; they are floats so that rules
compare them with `decimal` data items (CEL doubles) without a type error.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

CITY_CONSTANTS: Mapping[str, float] = MappingProxyType(
    {
        "minimum_living_standard_monthly": 1205.0,  # 城乡居民最低生活保障标准（元/人·月）
        "public_housing_income_line_monthly": 3000.0,  # 公租房申请家庭人均月收入线（元）
    }
)
