"""Checking values a person supplies for a proof (a commitment, an investigation's finding):
exactly the fields the matter receives, each valid for its data item type or null, and possible.

A decimal a person supplies is an amount in 元 or an area in ㎡: never below zero, at most to the
hundredth (the 分), below a trillion (`MOST_DIGITS` before the point) and written without zeros in
front, as a caseworker reads it. An integer is a count (people, properties, months): never below
zero. A text is at most `MOST_CHARACTERS` long. A time is never after the statement was made (a
minute's leeway for the signing device's clock), and a period's start (`…_start`) never after its
end (`…_end`). A source department's records are held to their type alone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from catalog.city_time import BEIJING
from catalog.model import DataItem, ItemType, Matter, Proof
from exchange.errors import InvalidInput
from exchange.sources.values import parse_offset_datetime, value_problem

MOST_DIGITS = 12
"""Digits before the point of a supplied amount: up to 999,999,999,999.99 元 (or ㎡)."""
MOST_CHARACTERS = 2000
"""Characters of a supplied text (a description of hardship): a page a caseworker reads."""
CLOCK_LEEWAY = timedelta(minutes=1)


def check_field_values(matter: Matter, proof: Proof, values: Mapping[str, Any], where: str, made_at: datetime) -> None:
    """InvalidInput naming `<where>` or `<where>.<field>` unless `values` are valid for `proof` in
    `matter`, as a statement made (signed, recorded) at `made_at`."""
    fields = matter.fields_for(proof.code)
    missing = [name for name in fields if name not in values]
    extra = [name for name in values if name not in fields]
    if missing:
        raise InvalidInput(where, f"missing {', '.join(missing)}")
    if extra:
        raise InvalidInput(where, f"not received in {matter.code}: {', '.join(extra)}")
    for name in fields:
        if values[name] is not None and (problem := _supplied_value_problem(proof.item(name), values[name])):
            raise InvalidInput(f"{where}.{name}", problem)
        item = proof.item(name)
        if item.type is ItemType.DATETIME and values[name] is not None:
            stated = parse_offset_datetime(values[name])
            if stated is not None and stated > made_at + CLOCK_LEEWAY:
                raise InvalidInput(f"{where}.{name}", "must not be later than the statement was made")
        if name.endswith("_end") and item.type is ItemType.DATE and values[name] is not None \
                and name.removesuffix("_end") + "_start" in values \
                and date.fromisoformat(str(values[name])) > made_at.astimezone(BEIJING).date():
            raise InvalidInput(f"{where}.{name}", "a period stated must have ended by the day the statement was made")
        end = name.removesuffix("_start") + "_end"
        if name.endswith("_start") and values.get(end) is not None and values[name] is not None \
                and item.type is ItemType.DATE and str(values[name]) > str(values[end]):
            raise InvalidInput(f"{where}.{name}", f"must not be after {end}")


def _supplied_value_problem(item: DataItem, value: Any) -> str | None:
    """Why a person cannot supply `value` (not null) for `item`, or None."""
    if problem := value_problem(item, value):
        return problem
    if item.type is ItemType.INTEGER and value < 0:
        return "must not be negative"
    if item.type is ItemType.STRING and len(value) > MOST_CHARACTERS:
        return f"must be at most {MOST_CHARACTERS} characters"
    if item.type is ItemType.DECIMAL:
        amount = Decimal(value).as_tuple()  # read as written: no arithmetic, whatever its size
        if amount.sign:
            return "must not be negative"
        if isinstance(amount.exponent, int) and amount.exponent < -2:
            return "must have at most two decimal places"
        if isinstance(amount.exponent, int) and len(amount.digits) + amount.exponent > MOST_DIGITS:
            return f"must have at most {MOST_DIGITS} digits before the decimal point"
        if len(whole := str(value).split(".")[0]) > 1 and whole.startswith("0"):
            return "must be written without zeros in front"
    return None
