"""Checking values a person supplies for a proof (a commitment, an investigation's finding):
exactly the fields the matter receives, each valid for its data item type or null.

A decimal a person supplies is an amount in 元 or an area in ㎡: never below zero, at most to the
hundredth (the 分), below a trillion (`MOST_DIGITS` before the point) and written without zeros in
front, as a caseworker reads it. A source department's records are held to their type alone."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from catalog.model import DataItem, ItemType, Matter, Proof
from exchange.errors import InvalidInput
from exchange.sources.values import value_problem

MOST_DIGITS = 12
"""Digits before the point of a supplied amount: up to 999,999,999,999.99 元 (or ㎡)."""


def check_field_values(matter: Matter, proof: Proof, values: Mapping[str, Any], where: str) -> None:
    """InvalidInput naming `<where>` or `<where>.<field>` unless `values` are valid for `proof` in `matter`."""
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


def _supplied_value_problem(item: DataItem, value: Any) -> str | None:
    """Why a person cannot supply `value` (not null) for `item`, or None."""
    if problem := value_problem(item, value):
        return problem
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
