"""The values of a source record, one per data item of the proof, as JSON.

Each catalog item type has one JSON form: `string` a string; `id_number` a valid GB 11643
number (upper-case X); `uscc` a valid GB 32100 code; `enum` one of the item's value codes;
`date` `YYYY-MM-DD`; `datetime` ISO 8601 with a UTC offset (both from 1900 on: no department
record of a living person's affairs is older, and year 1 cannot even be moved to another time
zone); `boolean` true/false; `integer`
a whole number; `decimal` a string of digits with an optional fraction (`"1234.50"`, never a
float, so amounts keep their exact value); `region_code` six digits of GB/T 2260; `list` an
array, of value codes when the item has `values`, otherwise of strings or flat objects of
strings. Any item may be null: not applicable to this subject (e.g. `spouse_name` of an
unmarried person).

Messages never repeat a value, which may be personal data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from catalog.citizen_id import PROVINCE_CODES, parse_id_number
from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from catalog.model import DataItem, ItemType, Proof

EARLIEST_DATE = date(1900, 1, 1)
"""The earliest date or time a value may have (see the module)."""
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_REGION = re.compile(r"[0-9]{6}")


def json_value(item: DataItem, value: Any) -> Any:
    """The JSON form of a Python value for `item`: dates and datetimes as ISO 8601 text,
    decimals as strings; everything else as it is. Raises ValueError for a naive datetime."""
    if value is None:
        return None
    if item.type is ItemType.DATETIME:
        if value.tzinfo is None:
            raise ValueError(f"{item.name}: a datetime needs a UTC offset")
        return value.isoformat()
    if item.type is ItemType.DATE:
        return value.isoformat()
    if item.type is ItemType.DECIMAL:
        return format(Decimal(value), "f")
    return value


def record_problems(proof: Proof, record: Any) -> list[str]:
    """What is wrong with `record` as a record of `proof` (empty: nothing).

    The record must be a JSON object with exactly the proof's data items as keys.
    """
    if not isinstance(record, Mapping):
        return ["record must be an object"]
    names = [item.name for item in proof.data_items]
    problems = [f"{name}: missing" for name in names if name not in record]
    problems += [f"{key}: not a data item of proof {proof.code}" for key in record if key not in names]
    for item in proof.data_items:
        if record.get(item.name) is not None:
            problem = value_problem(item, record[item.name]) or _unencodable(record[item.name])
            if problem:
                problems.append(f"{item.name}: {problem}")
    return problems


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _unencodable(value: Any) -> str | None:
    """A lone UTF-16 surrogate anywhere in a string of `value` (valid as a JSON escape, no text
    UTF-8 can hold: signing or storing it would fail far from the source's fault)."""
    strings = [value] if isinstance(value, str) else [
        text for element in value for text in (element.values() if isinstance(element, Mapping) else [element])
    ] if isinstance(value, list) else []
    return "must not contain unpaired UTF-16 surrogates" if any(_SURROGATE.search(s) for s in strings) else None


def value_problem(item: DataItem, value: Any) -> str | None:
    """Why `value` is not a valid non-null JSON value for `item`, or None if it is."""
    return _CHECKS[item.type](item, value)


def _string(_item: DataItem, value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _id_number(_item: DataItem, value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    try:
        if parse_id_number(value).number != value:
            return "ID number must be written without spaces and with an upper-case X"
    except InvalidIdentifier as invalid:
        return str(invalid)
    return None


def _uscc(_item: DataItem, value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    try:
        if parse_uscc(value).code != value:
            return "credit code must be written in upper case without spaces"
    except InvalidIdentifier as invalid:
        return str(invalid)
    return None


def _enum(item: DataItem, value: Any) -> str | None:
    if isinstance(value, str) and value in item.values:
        return None
    return f"must be one of {', '.join(item.values)}"


def _date(_item: DataItem, value: Any) -> str | None:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return None if date.fromisoformat(value) >= EARLIEST_DATE else f"must not be before {EARLIEST_DATE}"
        except ValueError:
            pass
    return "must be a date YYYY-MM-DD"


def _datetime(_item: DataItem, value: Any) -> str | None:
    parsed = parse_offset_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        return "must be an ISO 8601 datetime with a UTC offset"
    return None if parsed.year >= EARLIEST_DATE.year else f"must not be before {EARLIEST_DATE}"


def _boolean(_item: DataItem, value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


INT64 = range(-(2**63), 2**63)
"""The integers the rules can read: CEL's are 64-bit."""


def _integer(_item: DataItem, value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return "must be an integer"
    return None if value in INT64 else "must be a 64-bit integer (from -2^63 to 2^63-1)"


def _decimal(_item: DataItem, value: Any) -> str | None:
    return None if isinstance(value, str) and _DECIMAL.fullmatch(value) else 'must be a decimal written as a string, e.g. "1234.50"'


def _region_code(_item: DataItem, value: Any) -> str | None:
    if isinstance(value, str) and _REGION.fullmatch(value) and value[:2] in PROVINCE_CODES and value[2:4] != "00":
        return None
    return "must be a GB/T 2260 region code of six digits"


def _list(item: DataItem, value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be an array"
    if item.values:
        return None if all(isinstance(element, str) and element in item.values for element in value) else (
            f"elements must be among {', '.join(item.values)}"
        )
    for element in value:
        if isinstance(element, Mapping):
            if not all(isinstance(key, str) and isinstance(field, str) for key, field in element.items()):
                return "object elements must hold strings only"
        elif not isinstance(element, str):
            return "elements must be strings or objects of strings"
    return None


_CHECKS: dict[ItemType, Callable[[DataItem, Any], str | None]] = {
    ItemType.STRING: _string,
    ItemType.ID_NUMBER: _id_number,
    ItemType.USCC: _uscc,
    ItemType.ENUM: _enum,
    ItemType.DATE: _date,
    ItemType.DATETIME: _datetime,
    ItemType.BOOLEAN: _boolean,
    ItemType.INTEGER: _integer,
    ItemType.DECIMAL: _decimal,
    ItemType.REGION_CODE: _region_code,
    ItemType.LIST: _list,
}


def parse_offset_datetime(text: str) -> datetime | None:
    """An ISO 8601 datetime that carries a UTC offset, or None (naive, or not a datetime)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None and "T" in text else None

