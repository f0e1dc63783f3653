"""The people an answer names besides its subject: a 结婚证's or a 婚姻状况 answer's spouse, the
members a 户口簿 lists, a newborn's parents. Their data leaves the exchange with the subject's, so
each gets an entry of their own in the access log (outcome allowed, no consent of theirs, the
basis `NAMED_BASIS`), and their 谁用了我的数据 lists the access as the subject's does."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from catalog.citizen_id import ID_NUMBER_LENGTH, parse_id_number
from catalog.errors import InvalidIdentifier
from exchange.access_log import AccessEntry
from exchange.subjects import subject_key

NAMED_BASIS = "所调取的数据载有您的信息（调取的是他人的证明或证照，依据其授权或法定依据）"
"""The basis the entry of a person named in someone else's answer gives."""


def named_entries(entry: AccessEntry, data: Any, subject_number: str | None, hash_key: bytes) -> list[AccessEntry]:
    """`entry` (the subject's allowed access) once for each other person whose ID number `data`
    holds, keyed by their own number."""
    numbers = dict.fromkeys(number for number in _id_numbers(data) if number != subject_number)
    return [replace(entry, subject_key=subject_key(hash_key, number), consent_id=None, legal_basis=NAMED_BASIS)
            for number in numbers]


def _id_numbers(value: Any) -> Iterator[str]:
    """Every valid ID number `value` holds as a whole string, inside lists and objects too."""
    if isinstance(value, str):
        if len(value) == ID_NUMBER_LENGTH:
            try:
                yield parse_id_number(value).number
            except InvalidIdentifier:
                pass
    elif isinstance(value, Mapping):
        for member in value.values():
            yield from _id_numbers(member)
    elif isinstance(value, (list, tuple)):
        for member in value:
            yield from _id_numbers(member)
