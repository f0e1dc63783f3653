"""Unified social credit codes (统一社会信用代码) as defined by GB 32100-2015.

A code has 18 characters from the 31-symbol alphabet 0-9 A-Z without I, O, S, V and Z:
position 1 the registration authority (1 机构编制, 5 民政, 9 工商, ...), position 2 the
organisation type, positions 3-8 the region code of the registering authority, positions
9-17 the organisation code (主体标识码) and position 18 the check character
C18 = 31 - (sum of value * 3^(i-1) mod 31, mod 31), where 31 is written 0.

Positions 9-17 are a GB 11714-1997 organisation code with its own check character
(position 17) over positions 9-16: C9 = 11 - (sum mod 11), with 10 written X and 11 written 0.

The registration authority and organisation type are not checked against the GB 32100
tables, and the region code only for being six digits.

Some codes issued in early pilots fail the C18 check. They are not accepted silently: a caller
that must accept such a code passes it in `allowlist`, and the result says that the checks were
waived (`CreditCode.check_waived`). The default allow-list is empty.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from catalog.citizen_id import PROVINCE_CODES, parse_id_number
from catalog.errors import InvalidIdentifier

USCC_LENGTH = 18
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Weights of positions 1-17: 3^(i-1) mod 31.
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(USCC_LENGTH - 1))

# GB 11714-1997 organisation codes: 8 body characters, values 0-9 then A=10 ... Z=35.
_ORG_CODE_VALUES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

PILOT_CODE_ALLOWLIST: frozenset[str] = frozenset()
"""Codes whose check characters are not verified. Empty: every code must pass both checks."""

REGION_PREFIXES = PROVINCE_CODES | {"10"}
"""What positions 3-4 of a credit code may be: the province its region code lies in, or 10 for an
organisation registered for the whole country (region 100000)."""


@dataclass(frozen=True)
class CreditCode:
    """A validated unified social credit code and its parts. `code` is upper-case."""

    code: str
    registration_authority: str
    organisation_type: str
    region_code: str
    organisation_code: str
    check_waived: bool = False


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character (position 18) for the first 17 characters of a code."""
    _require(first17, USCC_LENGTH - 1, USCC_ALPHABET, "credit code check")
    total = sum(USCC_ALPHABET.index(char) * weight for char, weight in zip(first17, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    """The GB 11714 check character (9th) for the 8 body characters of an organisation code."""
    _require(body8, len(_ORG_CODE_WEIGHTS), _ORG_CODE_VALUES, "organisation code check")
    total = sum(_ORG_CODE_VALUES.index(char) * weight for char, weight in zip(body8, _ORG_CODE_WEIGHTS))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def complete_uscc(first16: str) -> str:
    """The full code for its first 16 characters: appends both check characters.

    This is how the catalog's demo department codes are made, e.g.
    `complete_uscc("11330700MB000001")`.
    """
    _require(first16, USCC_LENGTH - 2, USCC_ALPHABET, "credit code completion")
    first17 = first16 + org_code_check_char(first16[8:])
    return first17 + uscc_check_char(first17)


def parse_uscc(text: str, *, allowlist: Collection[str] = PILOT_CODE_ALLOWLIST) -> CreditCode:
    """Validate a unified social credit code, or raise `InvalidIdentifier`.

    Surrounding whitespace is ignored and lower-case letters are accepted as upper-case.
    A code in `allowlist` (upper-case) must still have 18 characters of the alphabet and a
    numeric region code, but its two check characters are not verified.
    """
    code = text.strip().upper()
    if len(code) != USCC_LENGTH:
        raise InvalidIdentifier(f"credit code must have {USCC_LENGTH} characters, got {len(code)}")
    for position, char in enumerate(code, start=1):
        if char not in USCC_ALPHABET:
            raise InvalidIdentifier(
                f"credit code position {position} must be a digit or a letter other than I, O, S, V, Z, got {char!r}"
            )
    if not code[2:8].isdigit():
        raise InvalidIdentifier(f"credit code positions 3-8 must be a region code of six digits, got {code[2:8]}")
    if code[2:4] not in REGION_PREFIXES:  # an ID number's are a city: one that passes both checks is refused here
        raise InvalidIdentifier(f"credit code positions 3-4 must be a province-level code (or 10, the whole "
                                f"country), got {code[2:4]}")
    check_waived = code in allowlist
    if not check_waived:
        expected = uscc_check_char(code[:17])
        if code[17] != expected:
            raise InvalidIdentifier(f"credit code check character: expected {expected}, got {code[17]}")
        expected = org_code_check_char(code[8:16])
        if code[16] != expected:
            raise InvalidIdentifier(
                f"credit code organisation-code check character (position 17): expected {expected}, got {code[16]}"
            )
    if _is_citizen_id_number(code):  # a person's number, published in full as an organisation's, is refused
        raise InvalidIdentifier("credit code is also a valid citizen ID number: refused, lest a person's number be "
                                "taken for an organisation's code")
    return CreditCode(
        code=code,
        registration_authority=code[0],
        organisation_type=code[1],
        region_code=code[2:8],
        organisation_code=code[8:17],
        check_waived=check_waived,
    )


def _is_citizen_id_number(code: str) -> bool:
    """Whether `code` also passes every check of a citizen ID number (region, birth date, check
    character): about one in 341 of those passes both check characters of a credit code, few with a
    province at positions 3-4; an organisation's code almost never has a birth date in it."""
    try:
        parse_id_number(code)
    except InvalidIdentifier:
        return False
    return True


def _require(text: str, length: int, alphabet: str, purpose: str) -> None:
    if len(text) != length or any(char not in alphabet for char in text):
        raise InvalidIdentifier(f"{purpose} needs {length} characters of {alphabet}, got {text!r}")
