"""Citizen ID numbers (公民身份号码) as defined by GB 11643-1999.

An ID number has 18 characters: a 6-digit address code (GB/T 2260), the birth date as
YYYYMMDD, a 3-digit sequence number (odd for men, even for women) and a check character
computed with ISO 7064 MOD 11-2 (X stands for 10).

The address code is checked structurally only: its first two digits must be a province-level
code of GB/T 2260 and its prefecture digits (3-4) must not be 00. The full GB/T 2260 table of
counties is not shipped, so a number with a well-formed but non-existent county passes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from operator import mul

from catalog.city_time import city_today
from catalog.errors import InvalidIdentifier

ID_NUMBER_LENGTH = 18
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# Weights of positions 1-17, left to right: 2^(18-i) mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_DIGIT_ZERO_SUM = ord("0") * sum(_WEIGHTS)
"""What the weighted sum of the digits' ASCII codes exceeds that of their values by."""
# Check character for r = (weighted sum mod 11) = 0..10.
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
"""What every position admits (`_refuse_shape` says which position of another number is wrong)."""

# Province-level codes of GB/T 2260 (first two digits of the address code).
PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23"}
    | {"31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46"}
    | {"50", "51", "52", "53", "54"}
    | {"61", "62", "63", "64", "65"}
    | {"71", "81", "82"}
)


class Gender(StrEnum):
    """Gender as encoded by the parity of the sequence number."""

    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True)
class CitizenId:
    """A validated ID number and what it encodes. `number` is normalised (upper-case X)."""

    number: str
    region_code: str
    birth_date: date
    gender: Gender

    def __repr__(self) -> str:
        return f"CitizenId(number={mask_id_number(self.number)!r})"


def id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits of an ID number."""
    if len(first17) != ID_NUMBER_LENGTH - 1 or not (first17.isascii() and first17.isdigit()):
        raise InvalidIdentifier(f"ID number check needs 17 digits, got {len(first17)} characters")
    total = sum(map(mul, first17.encode("ascii"), _WEIGHTS)) - _DIGIT_ZERO_SUM  # the bytes are ASCII codes
    return _CHECK_CHARS[total % 11]


def parse_id_number(text: str, *, today: date | None = None) -> CitizenId:
    """Validate an ID number and return what it encodes, or raise `InvalidIdentifier`.

    Surrounding whitespace is ignored and a lower-case x is accepted as X. `today` bounds the
    birth date (default: the city's date, Beijing's: a child born there after midnight is not
    "born in the future" while the server's UTC date is still the day before).
    """
    number = text.strip().upper()
    if len(number) != ID_NUMBER_LENGTH:
        raise InvalidIdentifier(f"ID number must have {ID_NUMBER_LENGTH} characters, got {len(number)}")
    if _SHAPE.fullmatch(number) is None:
        _refuse_shape(number)
    region_code = number[:6]
    if region_code[:2] not in PROVINCE_CODES:
        raise InvalidIdentifier(
            f"ID number region code {region_code}: {region_code[:2]} is not a GB/T 2260 province-level code"
        )
    if region_code[2:4] == "00":
        raise InvalidIdentifier(f"ID number region code {region_code}: prefecture digits must not be 00")
    birth_date = _birth_date(number[6:14], today or city_today())
    expected_check = id_check_char(number[:17])
    if number[17] != expected_check:
        raise InvalidIdentifier(f"ID number check character: expected {expected_check}, got {number[17]}")
    gender = Gender.MALE if int(number[16]) % 2 else Gender.FEMALE
    return CitizenId(number=number, region_code=region_code, birth_date=birth_date, gender=gender)


def _refuse_shape(number: str) -> None:
    """`InvalidIdentifier` naming the first position of `number` (18 characters) that admits no such character."""
    for position, char in enumerate(number, start=1):
        allowed = "0123456789X" if position == ID_NUMBER_LENGTH else "0123456789"
        if char not in allowed:
            expected = "a digit or X" if position == ID_NUMBER_LENGTH else "a digit"
            raise InvalidIdentifier(f"ID number position {position} must be {expected}, got {char!r}")


def mask_id_number(text: str) -> str:
    """The number with all but its first 6 and last 4 characters replaced by *.

    Does not validate: anything of 10 characters or fewer is masked entirely, so the result
    never reveals more than the region code and the last four characters.
    """
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def mask_id_numbers_in(text: str) -> str:
    """`text` with every citizen ID number inside it masked as `mask_id_number` masks it, also one
    that begins a longer run of digits (a 残疾人证号 is the holder's ID number and two digits more)
    or ends one (a case number of a date and the number, two numbers written without a break),
    or is written in groups (330702-19800204-1310-22, 3307 0219 8002 ..., 330702.1980/0204) or
    in full-width digits: 18 digits (the last may be X), with up to four separators between any
    two, are masked when they are a valid ID number (check character and birth date); the
    separators stay where they were."""
    if len(text) < ID_NUMBER_LENGTH:
        return text
    pieces, done = [], 0
    for candidate in _INSIDE.finditer(text):  # overlapping: one may begin inside the one before
        grouped, start = candidate[1], candidate.start()
        if start >= done and _valid(unicodedata.normalize("NFKC", _SEPARATOR.sub("", grouped))):
            pieces += [text[done:start], _masked(grouped)]
            done = start + len(grouped)
    return "".join(pieces) + text[done:]


_ID_NUMBER_SHAPED = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
"""Eighteen characters shaped like an ID number, masked in free text even when not a valid one (a
mistyped number is still nearly someone's)."""


def mask_free_text(text: str) -> str:
    """Free text someone typed (a purpose, a reason) with every ID number in it masked: valid ones
    however written (`mask_id_numbers_in`), then any run of 18 shaped like one."""
    return _ID_NUMBER_SHAPED.sub(lambda found: mask_id_number(found.group()), mask_id_numbers_in(text))


def _masked(grouped: str) -> str:
    """`grouped` (an ID number with separators) with its characters 7-14 replaced by *."""
    masked, seen = [], 0
    for char in grouped:
        if not _SEPARATOR.fullmatch(char):
            char = "*" if 6 <= seen < ID_NUMBER_LENGTH - 4 else char
            seen += 1
        masked.append(char)
    return "".join(masked)


def _valid(candidate: str) -> bool:
    try:
        parse_id_number(candidate.upper())
    except InvalidIdentifier:
        return False
    return True


_SEPARATOR = re.compile(r"[^0-9\uff10-\uff19A-Za-z\uff21-\uff3a\uff41-\uff5a\u3400-\u9fff]")
"""What may stand between the groups of a number as a department or a caseworker writes it: any
character but a digit, a Latin letter or a Chinese character (hyphens, dots, slashes, spaces,
tabs, underscores, commas and 顿号, colons, bars, brackets ..., ASCII or full-width)."""
_DIGIT = "[0-9\uff10-\uff19]"
_INSIDE = re.compile(rf"(?=({_DIGIT}(?:{_SEPARATOR.pattern}{{0,4}}{_DIGIT}){{16}}"
                     rf"{_SEPARATOR.pattern}{{0,4}}[0-9Xx\uff10-\uff19\uff38\uff58]))")


def _birth_date(yyyymmdd: str, today: date) -> date:
    try:
        birth_date = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        raise InvalidIdentifier(f"ID number birth date {yyyymmdd} is not a calendar date") from None
    if birth_date < EARLIEST_BIRTH_DATE:
        raise InvalidIdentifier(f"ID number birth date {birth_date.isoformat()} is before 1900-01-01")
    if birth_date > today:
        raise InvalidIdentifier(f"ID number birth date {birth_date.isoformat()} is in the future")
    return birth_date

