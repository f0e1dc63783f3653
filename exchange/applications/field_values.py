"""Checking values a person supplies for a proof (a commitment, an investigation's finding):
exactly the fields the matter receives, each valid for its data item type or null."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.model import Matter, Proof
from exchange.errors import InvalidInput
from exchange.sources.values import value_problem


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
        if values[name] is not None and (problem := value_problem(proof.item(name), values[name])):
            raise InvalidInput(f"{where}.{name}", problem)
