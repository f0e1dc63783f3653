"""Names of the administrative divisions (GB/T 2260 codes) the city's data items refer to, so a
certificate prints 金华市 where the source holds `330700`."""

from __future__ import annotations

from types import MappingProxyType

CITY_CODE = "330700"
"""The city this installation serves (金华市)."""

REGION_NAMES: MappingProxyType[str, str] = MappingProxyType({
    "330000": "浙江省",
    "330700": "金华市",
    "330702": "金华市婺城区",
    "330703": "金华市金东区",
    "330723": "武义县",
    "330726": "浦江县",
    "330727": "磐安县",
    "330781": "兰溪市",
    "330782": "义乌市",
    "330783": "东阳市",
    "330784": "永康市",
})


def region_name(code: str) -> str:
    """The division's name, or the code itself when the table has none."""
    return REGION_NAMES.get(code, code)
