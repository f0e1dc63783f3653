"""License identifiers: the GB/T 36904 structure the e-certificates use
(`exchange.certificates.identifiers`), with the license type's 4-digit code from the catalog
(2xxx, `LicenseType.type_code`) in the type segment:

    1.2.156.3005.2.<type code>.<issuer USCC>.<serial>.<version>.<check>

Each version of a license has its own identifier; they share type, issuer and serial and differ
in the version (01, 02, ...), so a verifier sees from the identifier alone which license a
version belongs to. The check character is the certificates' ISO 7064 MOD 37,36.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exchange.certificates.identifiers import (
    PREFIX,
    SERIAL_DIGITS,
    VERSION_DIGITS,
    InvalidCertificateIdentifier,
    check_character,
    check_issuer_serial_version,
    checked_parts,
)

_SHAPE = re.compile(
    rf"^{re.escape(PREFIX)}\.(2\d{{3}})\.([0-9A-Z]{{18}})\.(\d{{{SERIAL_DIGITS}}})\.(\d{{{VERSION_DIGITS}}})\.([0-9A-Z])$"
)


@dataclass(frozen=True)
class LicenseIdentifier:
    type_code: str
    issuer_uscc: str
    serial: int
    version: int

    def __str__(self) -> str:
        body = (f"{PREFIX}.{self.type_code}.{self.issuer_uscc}.{self.serial:0{SERIAL_DIGITS}d}"
                f".{self.version:0{VERSION_DIGITS}d}")
        return f"{body}.{check_character(body)}"


def make_license_identifier(type_code: str, issuer_uscc: str, serial: int, version: int) -> LicenseIdentifier:
    """Build an identifier, validating every part (`InvalidCertificateIdentifier` names the part)."""
    if not re.fullmatch(r"2\d{3}", type_code):
        raise InvalidCertificateIdentifier(f"license type code must be 4 digits starting with 2, got {type_code!r}")
    check_issuer_serial_version(issuer_uscc, serial, version)
    return LicenseIdentifier(type_code, issuer_uscc, serial, version)


def parse_license_identifier(text: str) -> LicenseIdentifier:
    """Validate `text` and return its parts, or raise `InvalidCertificateIdentifier`."""
    type_code, uscc, serial, version = checked_parts(text, _SHAPE, "a license identifier is", "2xxx type")
    return make_license_identifier(type_code, uscc, int(serial), int(version))
