"""E-certificate identifiers in the structure of GB/T 36904 (电子证照标识).

    1.2.156.3005.2.<type>.<issuer USCC>.<serial>.<version>.<check>
    1.2.156.3005.2.1001.12330700MB0000027A.0000000042.01.K

- `1.2.156.3005.2` is the fixed OID-style prefix of GB/T 36904 e-license identifiers.
- `type` is the certificate type code: 4 digits, one per catalog proof, from `TYPE_CODES`
  (a table, not a derivation, so a code never changes when the catalog is reordered or grows;
  a new proof gets the next free number).
- `issuer USCC` is the issuing department's 18-character unified social credit code (GB 32100,
  check character verified).
- `serial` is unique per issuer and chosen by the caller (a database sequence): 10 digits,
  zero-padded. `version` starts at 1 and grows when a certificate is re-issued: 2 digits.
- `check` is one ISO 7064 MOD 37,36 check character (alphabet 0-9A-Z) computed over every
  character before it *except the dots* (the dots are not in the alphabet). Because every
  segment has a fixed width, the dots sit at fixed positions and the structure check catches
  any error that involves a dot (a dot replaced, or swapped with a neighbour), while the check
  character catches every single-character substitution of the other characters and all but
  about one in 850 adjacent transpositions (MOD 37,36 is a hybrid system: it does not catch
  them all).

Parsing accepts surrounding whitespace and lower-case letters (normalised to upper case) and
otherwise raises `InvalidCertificateIdentifier` saying which part is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from exchange.errors import ExchangeError

PREFIX = "1.2.156.3005.2"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MODULUS = len(ALPHABET)  # ISO 7064 MOD 37,36: M = 36, M + 1 = 37
SERIAL_DIGITS = 10
VERSION_DIGITS = 2
MAX_SERIAL = 10**SERIAL_DIGITS - 1
MAX_VERSION = 10**VERSION_DIGITS - 1

TYPE_CODES: MappingProxyType[str, str] = MappingProxyType(
    {
        "NO_HOUSING": "1001",
        "NO_CRIMINAL_RECORD": "1002",
        "HOUSEHOLD_REGISTRATION": "1003",
        "HOUSEHOLD_BOOK": "1004",
        "MARITAL_STATUS": "1005",
        "SINGLE_DECLARATION": "1006",
        "INCOME": "1007",
        "HOUSING_HARDSHIP_REPORT": "1008",
        "NOT_RENTING_PUBLIC_HOUSING": "1009",
        "SOCIAL_INSURANCE": "1010",
        "TAX_PAYMENT": "1011",
        "DISABILITY": "1012",
        "MINIMUM_LIVING": "1013",
        "BIRTH_MEDICAL": "1014",
        "DEATH_MEDICAL": "1015",
        "VACCINATION": "1016",
        "EDUCATION": "1017",
        "IDEOLOGICAL_CHARACTER": "1018",
        "BUSINESS_LICENSE": "1019",
        "PREMISES_PROOF": "1020",
        "REAL_ESTATE_CERT": "1021",
        "RESIDENCE_PERMIT": "1022",
        "RENTAL_REGISTRATION": "1023",
        "PROVIDENT_FUND": "1024",
        "MEDICAL_INSURANCE": "1025",
        "GUARDIANSHIP": "1026",
        "ALIVE_PROOF": "1027",
        "SELF_IDENTITY_PROOF": "1028",
        "COMMUNITY_INCOME": "1029",
        "REAL_ESTATE_SEARCH": "1030",
    }
)
"""Certificate type code per catalog proof code. Codes are never reused or renumbered."""

_PROOF_BY_TYPE = {code: proof for proof, code in TYPE_CODES.items()}
_SHAPE = re.compile(
    rf"^{re.escape(PREFIX)}\.(\d{{4}})\.([0-9A-Z]{{18}})\.(\d{{{SERIAL_DIGITS}}})\.(\d{{{VERSION_DIGITS}}})\.([0-9A-Z])$"
)


class InvalidCertificateIdentifier(ExchangeError):
    """A text is not a well-formed e-certificate identifier; the message says which part."""


@dataclass(frozen=True)
class CertificateIdentifier:
    proof_code: str
    issuer_uscc: str
    serial: int
    version: int

    @property
    def type_code(self) -> str:
        return TYPE_CODES[self.proof_code]

    def __str__(self) -> str:
        body = f"{PREFIX}.{self.type_code}.{self.issuer_uscc}.{self.serial:0{SERIAL_DIGITS}d}.{self.version:0{VERSION_DIGITS}d}"
        return f"{body}.{check_character(body)}"


def type_code(proof_code: str) -> str:
    """The type code of `proof_code`; `InvalidCertificateIdentifier` if the proof has none."""
    try:
        return TYPE_CODES[proof_code]
    except KeyError:
        raise InvalidCertificateIdentifier(f"proof {proof_code} has no certificate type code") from None


def make_identifier(proof_code: str, issuer_uscc: str, serial: int, version: int = 1) -> CertificateIdentifier:
    """Build an identifier, validating every part."""
    type_code(proof_code)
    check_issuer_serial_version(issuer_uscc, serial, version)
    return CertificateIdentifier(proof_code, issuer_uscc, serial, version)


def parse_identifier(text: str) -> CertificateIdentifier:
    """Validate `text` and return its parts, or raise `InvalidCertificateIdentifier`."""
    if not text.strip().upper().startswith(PREFIX + "."):
        raise InvalidCertificateIdentifier(f"identifier must start with {PREFIX}.")
    type_, uscc, serial, version = checked_parts(text, _SHAPE, "identifier must be", "4-digit type")
    proof_code = _PROOF_BY_TYPE.get(type_)
    if proof_code is None:
        raise InvalidCertificateIdentifier(f"unknown certificate type code {type_}")
    return make_identifier(proof_code, uscc, int(serial), int(version))


def checked_parts(text: str, shape: re.Pattern[str], must_be: str, type_form: str) -> tuple[str, str, str, str]:
    """Type code, USCC, serial and version of an identifier of `shape` whose check character is
    right; else `InvalidCertificateIdentifier` saying what the identifier `must_be`."""
    normalised = text.strip().upper()
    match = shape.match(normalised)
    if match is None:
        raise InvalidCertificateIdentifier(
            f"{must_be} {PREFIX}.<{type_form}>.<18-character USCC>.<{SERIAL_DIGITS}-digit serial>"
            f".<{VERSION_DIGITS}-digit version>.<check character>"
        )
    type_code, uscc, serial, version, check = match.groups()
    expected = check_character(normalised[:-2])
    if check != expected:
        raise InvalidCertificateIdentifier(f"identifier check character: expected {expected}, got {check}")
    return type_code, uscc, serial, version


def check_character(body: str) -> str:
    """The ISO 7064 MOD 37,36 check character over the characters of `body` other than dots.

    The system runs left to right, so the state after the part before the last two segments (the
    prefix, the type and the issuer: the same for every identifier of one kind and issuer) is
    remembered, and only the serial and version are run for each identifier."""
    head, _, tail = body.rpartition(".")
    head, _, middle = head.rpartition(".")
    return ALPHABET[(MODULUS + 1 - _advance(_state_after(head), middle + tail)) % MODULUS]


@lru_cache(maxsize=1024)
def _state_after(head: str) -> int:
    """The MOD 37,36 state after `head` (a refusal is raised again each time, never remembered)."""
    return _advance(MODULUS, head)


def _advance(product: int, characters: str) -> int:
    for char in characters.replace(".", ""):
        value = ALPHABET.find(char)
        if value < 0:
            raise InvalidCertificateIdentifier(f"character {char!r} is not in the identifier alphabet")
        total = (product + value) % MODULUS or MODULUS
        product = (total * 2) % (MODULUS + 1)
    return product


def check_issuer_serial_version(issuer_uscc: str, serial: int, version: int) -> None:
    """The parts a certificate's and a license's identifiers share, or `InvalidCertificateIdentifier`."""
    _check_issuer(issuer_uscc)
    if not 1 <= serial <= MAX_SERIAL:
        raise InvalidCertificateIdentifier(f"serial must be between 1 and {MAX_SERIAL}, got {serial}")
    if not 1 <= version <= MAX_VERSION:
        raise InvalidCertificateIdentifier(f"version must be between 1 and {MAX_VERSION}, got {version}")


@lru_cache(maxsize=256)
def _check_issuer(issuer_uscc: str) -> None:
    """The issuer's credit code checked; remembered, since the city's few issuers sign every
    identifier (a refusal is raised again each time, never remembered)."""
    try:
        parse_uscc(issuer_uscc)
    except InvalidIdentifier as error:
        raise InvalidCertificateIdentifier(f"issuer USCC {issuer_uscc}: {error}") from None
