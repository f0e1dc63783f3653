"""The content of one version of an e-license: what its credential signs.

`LicenseContent` has clear members — identifier, license type, version and the identifier of
the version it supersedes, holder (name, masked ID number or USCC; no digest of the number, see
`HeldBy`), issuer, times, status-list entry — and the data items (`items`, name -> JSON value), which the
credential carries only as salted digests (`exchange.licenses.sd_jwt`), so that a holder can
disclose some items and not others. Read back from a credential or presentation, `items` holds
only what was disclosed.

The holder, the issuer, the status entry and the time format are the e-certificates'
(`exchange.certificates.model`), so the certificates' verdict checks (`judge`) apply as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from catalog.citizen_id import mask_free_text, mask_id_number, mask_id_numbers_in
from catalog.city_time import BEIJING
from catalog.model import Department, ItemType, LicenseType, Subject, ValidityRule
from exchange.certificates.identifiers import InvalidCertificateIdentifier
from exchange.certificates.model import (
    InvalidContent,
    Issuer,
    RELATIONS_ZH,
    SealedFacts,
    StatusEntry,
    claim_str,
    sealed_from_document,
    display_text,
    whole_seconds,
)
from exchange.errors import InvalidInput
from exchange.licenses.identifiers import make_license_identifier, parse_license_identifier
from exchange.sources.values import parse_offset_datetime, value_problem
from seals.fonts import missing_glyphs

LICENSE_CLAIMS = ("identifier", "license", "version", "supersedes", "holder", "issuer", "issued_at", "valid_from",
                  "valid_until", "status")
"""The clear members of the content, in the credential's payload next to `_sd`."""


@dataclass(frozen=True, kw_only=True)
class LicenseContent(SealedFacts):
    """The sealed facts of a license version (a license states no search result: no `as_of`),
    its type, version and predecessor, the holder's kind, and the items."""

    license_code: str
    license_name_zh: str
    version: int
    supersedes: str | None
    holder_kind: Subject
    items: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def document_code(self) -> str:
        return self.license_code

    @property
    def document_name_zh(self) -> str:
        return self.license_name_zh

    @property
    def holder_number_disclosed(self) -> str | None:
        """The `id_number` item, when disclosed: the items naming a person holder are the holder's
        (`exchange.licenses.service`)."""
        shown = self.items.get("id_number") if self.holder_kind is Subject.PERSON else None
        return shown if isinstance(shown, str) else None

    def clear_claims(self) -> dict[str, Any]:
        """The members signed in clear (everything but the items)."""
        sealed = self.sealed_document()
        return {
            **sealed,
            "license": {"code": self.license_code, "name_zh": self.license_name_zh},
            "version": self.version,
            "supersedes": self.supersedes,
            "holder": {"kind": self.holder_kind.value, **sealed["holder"]},
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.clear_claims(), "items": dict(self.items)}

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], items: Mapping[str, Any]) -> LicenseContent:
        """Read the clear claims back, with the disclosed `items`; `InvalidContent` if malformed."""
        try:
            version = claims["version"]
            if not isinstance(version, int) or isinstance(version, bool):
                raise TypeError("version is not an integer")
            content = cls(
                **sealed_from_document(claims),
                license_code=claim_str(claims["license"]["code"]),
                license_name_zh=claim_str(claims["license"]["name_zh"]),
                version=version,
                supersedes=None if claims["supersedes"] is None else claim_str(claims["supersedes"]),
                holder_kind=Subject(claims["holder"]["kind"]),
                items=MappingProxyType(dict(items)),
            )
            parsed = parse_license_identifier(content.identifier)
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidContent(f"license content is malformed ({type(error).__name__}: {error})") from None
        except InvalidCertificateIdentifier as error:
            raise InvalidContent(str(error)) from None
        if parsed.issuer_uscc != content.issuer.uscc or parsed.version != content.version:
            raise InvalidContent("the identifier names another issuer or version")
        return content


@dataclass(frozen=True)
class HolderIdentity:
    """Whom a license is issued to: a person by ID number or an organisation by USCC."""

    kind: Subject
    name: str
    number: str
    """The full ID number or USCC: personal data for a person, never stored or logged in clear."""

    def held_by(self) -> HeldBy:
        """What a new license says of its holder in clear: kind, name and the number masked, of a
        person all but the last four characters (`mask_holder_number`)."""
        masked = mask_holder_number(self.number) if self.kind is Subject.PERSON else self.number
        return HeldBy(self.kind, self.name, masked)


def mask_holder_number(number: str) -> str:
    """A license holder's ID number as a license states it in clear: its last four characters. The
    region code a certificate shows would, with a date a license states in clear (a 出生医学证明
    takes effect on the day of birth), make up the whole number."""
    return "*" * (len(number) - 4) + number[-4:]


@dataclass(frozen=True)
class HeldBy:
    """What a license says of its holder in clear: kind, name and masked number (a new version
    keeps its predecessor's). No digest of the number: a number masked as certificates mask it
    shows all but the birth date, so anyone holding a 亮证 could find it from a digest by trying
    every day of a century; the number is an item the holder discloses or not. Licenses issued
    before carry one, and the region code in the masked number."""

    kind: Subject
    name: str
    id_masked: str


def item_problems(license_type: LicenseType, items: Any) -> dict[str, str]:
    """What is wrong with `items` for `license_type`, by item name (empty: nothing). Every item
    of the type must be given (null: not applicable); messages never repeat a value."""
    if not isinstance(items, Mapping):
        return {"": "must be an object of data items"}
    names = [item.name for item in license_type.data_items]
    problems = {name: "missing" for name in names if name not in items}
    problems |= {key: f"not a data item of {license_type.code}" for key in items if key not in names}
    for item in license_type.data_items:
        if items.get(item.name) is not None:
            problem = value_problem(item, items[item.name]) or unprintable(items[item.name])
            if problem:
                problems[item.name] = problem
    return problems


ENDED_STATES = MappingProxyType({"registration_status": frozenset({"cancelled", "revoked"})})
"""Item values saying that what a license attests no longer stands (a company 注销, its licence
吊销): such a license is revoked, never issued or amended to say so while in force."""


def ended_state(license_type: LicenseType, items: Mapping[str, Any]) -> str | None:
    """The item of `items` whose value says the license no longer stands (`ENDED_STATES`), or None."""
    return next((item.name for item in license_type.data_items
                 if items.get(item.name) in ENDED_STATES.get(item.name, ())), None)


VALIDITY_ITEMS = frozenset({"valid_from", "valid_until"})
"""The date items that say how long a license lasts, and may lie ahead; every other date item
records what has happened (a registration, a birth, an issue)."""
RECORDED_SKEW = timedelta(minutes=1)
"""How far ahead of the exchange's clock a recorded time may be: the issuing system's clock."""


def recorded_ahead(license_type: LicenseType, items: Mapping[str, Any], latest: datetime) -> dict[str, str]:
    """The date items of `items` (which passed `item_problems`) recording an event after `latest`:
    a day after its day in Beijing, a time more than a minute after it. By item name (empty:
    none). A 结婚证 typed 2062 for 2026 would otherwise stand as its holder's newest marital record,
    over a 离婚证 registered since (`service.current_license`)."""
    day, problems = latest.astimezone(BEIJING).date(), {}
    for item in license_type.data_items:
        value = items.get(item.name)
        if item.name in VALIDITY_ITEMS or not isinstance(value, str):
            continue
        if item.type is ItemType.DATE and date.fromisoformat(value) > day:
            problems[item.name] = (f"records what has happened: it may not be after {day} (Beijing time), the day "
                                   "the license is issued or takes effect")
        elif item.type is ItemType.DATETIME and (parse_offset_datetime(value) or latest) > latest + RECORDED_SKEW:
            problems[item.name] = "records what has happened: it may not be later than the license is issued or " \
                                  "takes effect"
    return problems


def unprintable(value: Any) -> str | None:
    """What is wrong with a text the license will print: characters its face cannot print (a
    blank where a character should be would misstate the license); None for any other value."""
    missing = missing_glyphs(value) if isinstance(value, str) else None
    return f"has characters the license cannot print: {''.join(sorted(missing))}" if missing else None


def validity_window(license_type: LicenseType, valid_from: datetime,
                    stated_until: date | None) -> datetime | None:
    """When a license of the type expires: never (permanent), `validity_years` after `valid_from`,
    or at the end of the day stated on it (Beijing time); `InvalidInput` when that does not fit."""
    if license_type.validity is ValidityRule.STATED:
        if stated_until is None:
            raise InvalidInput("valid_until", f"required: a {license_type.name_zh} states its own validity")
        end = datetime(stated_until.year, stated_until.month, stated_until.day, 23, 59, 59, tzinfo=BEIJING)
        if end <= valid_from:
            raise InvalidInput("valid_until", "must be after the license takes effect")
        return end.astimezone(timezone.utc)
    if stated_until is not None:
        raise InvalidInput("valid_until", f"a {license_type.name_zh} does not state a validity; "
                                          f"the catalog's rule is {license_type.validity.label_zh}")
    if license_type.validity is ValidityRule.YEARS and license_type.validity_years is not None:
        start = valid_from.astimezone(BEIJING)  # the same Beijing date, years on: 1 March stays 1 March
        try:
            end = start.replace(year=start.year + license_type.validity_years)
        except ValueError:  # 29 February
            end = start.replace(year=start.year + license_type.validity_years, day=28)
        return end.astimezone(timezone.utc)
    return None


def build_license_content(*, license_type: LicenseType, department: Department, holder: HeldBy,
                          items: Mapping[str, Any], serial: int, version: int, supersedes: str | None,
                          status: StatusEntry, issued_at: datetime, valid_from: datetime,
                          valid_until: datetime | None) -> LicenseContent:
    """The content of one version of a license (items already checked with `item_problems`)."""
    identifier = make_license_identifier(license_type.type_code, department.uscc, serial, version)
    return LicenseContent(
        identifier=str(identifier),
        license_code=license_type.code,
        license_name_zh=license_type.name_zh,
        version=version,
        supersedes=supersedes,
        holder_kind=holder.kind,
        holder_name=holder.name,
        holder_id_masked=holder.id_masked,
        holder_binding=None,
        issuer=Issuer(department.code, department.legal_name_zh, department.uscc),
        issued_at=whole_seconds(issued_at),
        valid_from=whole_seconds(valid_from),
        valid_until=None if valid_until is None else whole_seconds(valid_until),
        status=status,
        items=MappingProxyType(dict(items)),
    )


def printed_items(license_type: LicenseType | None, items: Mapping[str, Any], *,
                  mask_values: bool = False) -> list[dict[str, Any]]:
    """Items with their Chinese label and display text, in catalog order (ID numbers masked in the
    text, and in the value too with `mask_values`: a verdict never repeats an ID number); items
    the catalog does not know (another catalog version) keep their name as label."""
    known = {item.name: item for item in license_type.data_items} if license_type else {}
    rows = []
    for name, value in items.items():
        item = known.get(name)
        if item is None or value is None:  # an item of another version may be an ID number: masked as free text
            text = "—" if value is None else mask_free_text(str(value))
        elif item.type.value == "id_number":
            text = mask_id_number(value)
        elif item.type.value == "list" and any(isinstance(element, Mapping) for element in value):
            text = "；".join(_object_text(element) for element in value)
        else:
            text = mask_id_numbers_in(display_text(item, value))
        if mask_values and value is not None and (item is None or item.type.value in ("id_number", "list")):
            value = text  # an unknown item or a list may hold ID numbers too: only its printed form
        elif mask_values and isinstance(value, str):
            value = mask_id_numbers_in(value)  # a 残疾人证号 begins with the holder's ID number
        rows.append({"name": name, "label_zh": item.name_zh if item else name, "value": value, "text_zh": text})
    order = list(known)
    return sorted(rows, key=lambda row: order.index(row["name"]) if row["name"] in order else len(order))


def _object_text(element: Any) -> str:
    """An element of a list of objects (a household's members): its values joined, ID numbers
    masked, a relation to the head of household in Chinese."""
    if not isinstance(element, Mapping):
        return str(element)
    return "/".join(mask_id_number(str(value)) if key.endswith("id_number")
                    else RELATIONS_ZH.get(str(value), str(value)) if key.startswith("relation") else str(value)
                    for key, value in element.items())
