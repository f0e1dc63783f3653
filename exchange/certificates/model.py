"""The content of one e-certificate (电子证明): what all three forms carry and sign.

`CertificateContent` is immutable and has one canonical JSON form (`to_dict`, hashed and signed
as `core.canonical.canonical_json`); `from_dict` reads it back strictly. `build_content` makes
one from the catalog's proof and department, the data pulled from the source, the holder and
the issuance parameters.

The holder's ID number is never carried in full: the content has the masked number
(`catalog.citizen_id.mask_id_number`) and a salted digest, SHA-256(salt || number) with a
random 16-byte salt per certificate, so a verifier who is shown the holder's ID card can check
the binding. Caveat: the mask leaves only the 8 birth-date digits hidden, so the digest does
not keep the full number secret from a determined reader (about 40,000 plausible birth dates);
it binds, it does not hide. `alg` is carried so a slower hash can replace it later.

Times are UTC, whole seconds, written `YYYY-MM-DDTHH:MM:SSZ`. A certificate stating the result
of a search (the catalog's `as_of_search`: no housing, no criminal record, ...) states up to when
the search covered (`as_of`, printed "截至 … 的查询结果"; see `record_backing`); every certificate
is valid from its issuance, so validity never starts before the document exists.
"""

from __future__ import annotations

import hashlib
import re
import hmac
import secrets
from collections.abc import Mapping
import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from catalog.citizen_id import mask_id_number, mask_id_numbers_in, parse_id_number
from catalog.city_time import BEIJING, format_date_zh
from catalog.errors import InvalidIdentifier
from catalog.regions import region_name
from catalog.model import DataItem, Department, ItemType, Proof
from exchange.certificates.identifiers import InvalidCertificateIdentifier, make_identifier, parse_identifier
from exchange.certificates.record_backing import STATED_RESULTS, record_end, searched_until
from exchange.errors import ExchangeError
from core.base64url import b64url_decode, b64url_encode

BINDING_ALG = "sha256"
SALT_BYTES = 16
_STATEMENTS = {
    "NO_HOUSING": "经查询，截至{as_of}，{holder}（公民身份号码：{id_masked}）在{scope}不动产登记信息系统中{result}。",
    "REAL_ESTATE_SEARCH": "经查询，截至{as_of}，{holder}（公民身份号码：{id_masked}）在{scope}不动产登记信息系统中{result}。",
    "NO_CRIMINAL_RECORD": "经查询，截至{as_of}，{holder}（公民身份号码：{id_masked}）在全国违法犯罪人员信息系统中{result}。",
    "NOT_RENTING_PUBLIC_HOUSING": "经核查，截至{as_of}，{holder}（公民身份号码：{id_masked}）{result}。",
}
RELATIONS_ZH = {"head": "户主", "spouse": "配偶", "child": "子女", "parent": "父母", "grandparent": "祖父母",
                "grandchild": "孙子女", "sibling": "兄弟姐妹", "other": "其他"}
"""Relations to the head of a household, as the public-security source names them."""
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]")
_GENERIC_STATEMENT = "经查询，{holder}（公民身份号码：{id_masked}）的{proof}信息如下。"


class InvalidContent(ExchangeError):
    """Certificate content that cannot be built or read back; the message says why."""


@dataclass(frozen=True)
class Field:
    """One printed data item: catalog name, Chinese label, raw JSON value, Chinese display text."""

    name: str
    label_zh: str
    value: Any
    text_zh: str


@dataclass(frozen=True)
class Issuer:
    department_code: str
    name_zh: str
    uscc: str

    def to_document(self) -> dict[str, str]:
        return {"department_code": self.department_code, "name_zh": self.name_zh, "uscc": self.uscc}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Issuer:
        return cls(claim_str(document["department_code"]), claim_str(document["name_zh"]), claim_str(document["uscc"]))


@dataclass(frozen=True)
class HolderBinding:
    """The salted digest of the holder's full ID number."""

    salt: bytes
    digest: bytes
    alg: str = BINDING_ALG

    @classmethod
    def of(cls, id_number: str, salt: bytes | None = None) -> HolderBinding:
        salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
        return cls(salt, _digest(salt, id_number))

    def matches(self, id_number: str) -> bool:
        return self.alg == BINDING_ALG and hmac.compare_digest(self.digest, _digest(self.salt, id_number))

    def to_document(self) -> dict[str, str]:
        return {"alg": self.alg, "salt": b64url_encode(self.salt), "digest": b64url_encode(self.digest)}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> HolderBinding:
        """Read `to_document` back (`KeyError`, `TypeError` or `ValueError` if malformed)."""
        return cls(b64url_decode(claim_str(document["salt"])), b64url_decode(claim_str(document["digest"])),
                   claim_str(document["alg"]))


@dataclass(frozen=True)
class StatusEntry:
    """Where the certificate's revocation bit lives (W3C Bitstring Status List entry)."""

    list_url: str
    index: int

    def to_document(self) -> dict[str, Any]:
        return {"list_url": self.list_url, "index": self.index}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> StatusEntry:
        return cls(claim_str(document["list_url"]), claim_int(document["index"]))


@dataclass(frozen=True, kw_only=True)
class SealedFacts(ABC):
    """What every sealed document about a holder states, an e-certificate in any form or an
    e-license: its identifier, holder, issuer, times and status entry; what the verdict checks
    read. `as_of` is set only on a certificate stating the result of a search."""

    identifier: str
    holder_name: str
    holder_id_masked: str
    holder_binding: HolderBinding | None
    """None on an e-license issued by this version: its holder's number is an item the holder
    discloses or not (a digest beside the masked number would give it away, see docs/licenses.md)."""
    issuer: Issuer
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime | None
    status: StatusEntry
    as_of: datetime | None = None

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form of the content, as its form signs it."""

    @property
    @abstractmethod
    def document_code(self) -> str:
        """The catalog's code of what this is (a certificate's proof, a license's type): the
        issuer must be the department the catalog has issue it."""

    @property
    @abstractmethod
    def document_name_zh(self) -> str:
        """What this is called, as it states it."""

    @property
    def holder_number_disclosed(self) -> str | None:
        """The holder's full ID number as disclosed (a license's `id_number` item the holder
        chose to show), against which a verifier's number is checked where there is no
        `holder_binding`; None here."""
        return None

    def sealed_document(self) -> dict[str, Any]:
        """The sealed facts in the canonical form (`as_of` is the certificates' own member)."""
        holder: dict[str, Any] = {"name": self.holder_name, "id_masked": self.holder_id_masked}
        if self.holder_binding is not None:
            holder["id_binding"] = self.holder_binding.to_document()
        return {
            "identifier": self.identifier,
            "holder": holder,
            "issuer": self.issuer.to_document(),
            "issued_at": format_time(self.issued_at),
            "valid_from": format_time(self.valid_from),
            "valid_until": format_optional_time(self.valid_until),
            "status": self.status.to_document(),
        }


def sealed_from_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The sealed facts of a canonical document as keyword arguments (`KeyError`, `TypeError` or
    `ValueError` if malformed)."""
    holder = document["holder"]
    return {
        "identifier": claim_str(document["identifier"]),
        "holder_name": claim_str(holder["name"]),
        "holder_id_masked": claim_str(holder["id_masked"]),
        "holder_binding": HolderBinding.from_document(holder["id_binding"]) if "id_binding" in holder else None,
        "issuer": Issuer.from_document(document["issuer"]),
        "issued_at": parse_time(document["issued_at"]),
        "valid_from": parse_time(document["valid_from"]),
        "valid_until": parse_optional_time(document["valid_until"]),
        "status": StatusEntry.from_document(document["status"]),
    }


@dataclass(frozen=True, kw_only=True)
class CertificateFacts(SealedFacts):
    """What every form of a certificate states: the sealed facts, the proof and the purpose. The
    credential's and the PDF's content adds the statement and the printed fields
    (`CertificateContent`), the QR's the raw values (`QrContent`)."""

    proof_code: str
    proof_name_zh: str
    purpose: str

    @property
    def document_code(self) -> str:
        return self.proof_code

    @property
    def document_name_zh(self) -> str:
        return self.proof_name_zh

    def facts(self) -> dict[str, Any]:
        """The facts as keyword arguments, to build another form of the same certificate."""
        return {member.name: getattr(self, member.name) for member in dataclasses.fields(CertificateFacts)}

    def facts_document(self) -> dict[str, Any]:
        """The facts in the canonical form."""
        return {**self.sealed_document(), "proof": {"code": self.proof_code, "name_zh": self.proof_name_zh},
                "as_of": format_optional_time(self.as_of), "purpose": self.purpose}


def facts_from_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The facts of a canonical document as keyword arguments (`KeyError`, `TypeError` or
    `ValueError` if malformed)."""
    return {
        **sealed_from_document(document),
        "proof_code": claim_str(document["proof"]["code"]),
        "proof_name_zh": claim_str(document["proof"]["name_zh"]),
        "as_of": parse_optional_time(document["as_of"]),
        "purpose": claim_str(document["purpose"]),
    }


@dataclass(frozen=True, kw_only=True)
class CertificateContent(CertificateFacts):
    statement_zh: str
    fields: tuple[Field, ...]

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form (what is signed)."""
        return {
            **self.facts_document(),
            "statement_zh": self.statement_zh,
            "fields": [
                {"name": f.name, "label_zh": f.label_zh, "value": f.value, "text_zh": f.text_zh} for f in self.fields
            ],
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> CertificateContent:
        """Read the canonical form back; `InvalidContent` if anything is missing or mistyped."""
        try:
            content = cls(
                **facts_from_document(document),
                statement_zh=claim_str(document["statement_zh"]),
                fields=tuple(
                    Field(claim_str(f["name"]), claim_str(f["label_zh"]), f["value"], claim_str(f["text_zh"]))
                    for f in document["fields"]
                ),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidContent(f"certificate content is malformed ({type(error).__name__}: {error})") from None
        check_identifier(content.identifier, content.proof_code, content.issuer.uscc)
        return content


def build_content(
    *,
    proof: Proof,
    department: Department,
    holder_name: str,
    id_number: str,
    data: Mapping[str, Any],
    purpose: str,
    serial: int,
    status: StatusEntry,
    issued_at: datetime,
    searched_at: datetime,
    version: int = 1,
) -> CertificateContent:
    """The content of a new certificate of `proof` issued by `department`.

    `data` is what the source returned (item name -> JSON value); every item of the proof
    except ID numbers is printed, in catalog order, with ID numbers inside values masked — and
    except a date that is the holder's birth date: the masked ID number hides exactly those
    eight digits, and printing both would give the whole number away. Items the catalog marks
    not `printed` are left out. `searched_at` is when the source answered: the `as_of` time of a
    proof stating a search result, or the record's own search time when earlier
    (`record_backing.searched_until`). Validity is the catalog's `validity_days` from issuance,
    and ends by the end the record states (`record_backing.record_end`). Call
    `record_backing.unbacked` first: this builds what it is given.
    """
    if proof.department != department.code:
        raise InvalidContent(f"proof {proof.code} is issued by {proof.department}, not {department.code}")
    issued_at = whole_seconds(issued_at)
    as_of = whole_seconds(searched_until(proof, data, searched_at, issued_at)) if proof.as_of_search else None
    valid_from, end = issued_at, record_end(data)
    valid_until = None if proof.validity_days is None else valid_from + timedelta(days=proof.validity_days)
    if end is not None:
        valid_until = whole_seconds(end if valid_until is None else min(valid_until, end))
    birth_date = _birth_date(id_number)
    fields = tuple(
        Field(item.name, item.name_zh, value, display_text(item, value))
        for item in proof.data_items
        if item.printed and item.type is not ItemType.ID_NUMBER and data.get(item.name) is not None
        and not _is_date(item, data[item.name], birth_date)
        for value in (_masked_id_numbers(data[item.name]),)
    )
    masked = mask_id_number(id_number)
    identifier = make_identifier(proof.code, department.uscc, serial, version)
    return CertificateContent(
        identifier=str(identifier),
        proof_code=proof.code,
        proof_name_zh=proof.name_zh,
        holder_name=holder_name,
        holder_id_masked=masked,
        holder_binding=HolderBinding.of(id_number),
        issuer=Issuer(department.code, department.legal_name_zh, department.uscc),
        issued_at=issued_at,
        valid_from=valid_from,
        valid_until=valid_until,
        as_of=as_of,
        purpose=purpose,
        statement_zh=_statement(proof, data, holder_name, masked, as_of),
        fields=fields,
        status=status,
    )


def reads_as_catalogued(content: CertificateContent, proof: Proof) -> bool:
    """Whether `content` reads as `build_content` writes a certificate of `proof`: each field an
    item of it that is printed, under the item's label, with its value's text; and the statement
    the one written for those values. A seal may state only what its proof's definition lets it:
    not another department's fact under its own proof's name. When the catalog does not print
    the item a stated result reads, the statement cannot be written again and is not compared."""
    items = {item.name: item for item in proof.data_items}
    for field in content.fields:
        item = items.get(field.name)
        if item is None or not item.printed or item.type is ItemType.ID_NUMBER or field.label_zh != item.name_zh \
                or field.text_zh != display_text(item, field.value):
            return False
    data = {field.name: field.value for field in content.fields}
    stated = STATED_RESULTS.get(proof.code)
    if stated is not None and content.as_of is not None and stated.item not in data:
        return True
    return content.statement_zh == _statement(proof, data, content.holder_name, content.holder_id_masked,
                                              content.as_of)


def check_identifier(identifier: str, proof_code: str, issuer_uscc: str) -> None:
    """`InvalidContent` unless `identifier` is valid and names this proof and issuer."""
    try:
        parsed = parse_identifier(identifier)
    except InvalidCertificateIdentifier as error:
        raise InvalidContent(str(error)) from None
    if parsed.proof_code != proof_code or parsed.issuer_uscc != issuer_uscc:
        raise InvalidContent("the identifier names another proof or issuer")


def display_text(item: DataItem, value: Any) -> str:
    """How a data item's value is printed on the certificate."""
    if item.type is ItemType.BOOLEAN:
        return "是" if value else "否"
    if item.type is ItemType.ENUM:
        return item.values.get(value, str(value))
    if item.type is ItemType.LIST:
        return "、".join(_element_text(item, element) for element in value)
    if item.type is ItemType.DATE:
        return format_date_zh(date.fromisoformat(value))
    if item.type is ItemType.DATETIME:
        return format_datetime_zh(parse_time(value))
    if item.type is ItemType.REGION_CODE:
        return region_name(str(value))
    return str(value)


def _element_text(item: DataItem, element: Any) -> str:
    """One element of a list item: a code by its label, a person (a household member's
    {name, id_number, relation}) as 姓名（关系，masked number）, anything else as text."""
    if isinstance(element, Mapping):
        relation = element.get("relation")
        details = [RELATIONS_ZH.get(relation, str(relation)) if relation else None, element.get("id_number")]
        shown = "，".join(str(detail) for detail in details if detail)
        return f"{element.get('name', '')}（{shown}）" if shown else str(element.get("name", ""))
    return item.values.get(element, str(element)) if isinstance(element, str) else str(element)


def _birth_date(id_number: str) -> date | None:
    try:
        return parse_id_number(id_number).birth_date
    except InvalidIdentifier:
        return None


def _is_date(item: DataItem, value: Any, day: date | None) -> bool:
    """Whether a date or date-time item's value falls on `day`."""
    if day is None or item.type not in (ItemType.DATE, ItemType.DATETIME) or not isinstance(value, str):
        return False
    try:
        return date.fromisoformat(value[:10]) == day
    except ValueError:
        return False


def _masked_id_numbers(value: Any) -> Any:
    """`value` with every ID number inside it (a household member's, say, or the holder's at the
    start of a 残疾人证号) masked: a certificate carries no ID number in full, not even inside a
    list or another number."""
    if isinstance(value, str):
        return mask_id_number(value) if _ID_NUMBER.fullmatch(value) else mask_id_numbers_in(value)
    if isinstance(value, Mapping):
        return {key: _masked_id_numbers(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_masked_id_numbers(member) for member in value]
    return value


def format_time(moment: datetime) -> str:
    """UTC to the second, e.g. 2026-11-21T02:30:00Z (not strftime: slower, and every content
    prints four times when it is signed or shown)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")[:19] + "Z"


def format_optional_time(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def parse_optional_time(text: Any) -> datetime | None:
    return None if text is None else parse_time(text)


def parse_time(text: Any) -> datetime:
    """A UTC time from `YYYY-MM-DDTHH:MM:SS` with `Z` or an offset; ValueError otherwise."""
    moment = datetime.fromisoformat(claim_str(text))  # reads `Z` too
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no time zone")
    return moment if moment.tzinfo is timezone.utc else moment.astimezone(timezone.utc)


def format_datetime_zh(moment: datetime) -> str:
    """Beijing time, e.g. 2026年11月21日 10:30."""
    local = moment.astimezone(BEIJING)
    return f"{format_date_zh(local)} {local.hour:02d}:{local.minute:02d}"  # not strftime: 7x slower, on every verdict


def _statement(proof: Proof, data: Mapping[str, Any], holder: str, masked: str, as_of: datetime | None) -> str:
    template = _STATEMENTS.get(proof.code)
    stated = STATED_RESULTS.get(proof.code)
    if template is None or stated is None or as_of is None or not isinstance(data.get(stated.item), bool):
        return _GENERIC_STATEMENT.format(holder=holder, id_masked=masked, proof=proof.name_zh)
    return template.format(
        as_of=format_datetime_zh(as_of),
        holder=holder,
        id_masked=masked,
        scope=region_name(str(data[stated.scope])) if stated.scope else "",
        result=stated.positive if data[stated.item] else stated.negative,
    )


def _digest(salt: bytes, id_number: str) -> bytes:
    """SHA-256(salt || number), the number stripped and upper-cased (a lower-case x is X)."""
    return hashlib.sha256(salt + id_number.strip().upper().encode("utf-8")).digest()


def whole_seconds(moment: datetime) -> datetime:
    """`moment` in UTC without its microseconds (what a credential states); aware times only."""
    if moment.tzinfo is None:
        raise InvalidContent("times must be timezone-aware")
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def claim_str(value: Any) -> str:
    """A claim read back that must be a string (`TypeError` otherwise)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def claim_int(value: Any) -> int:
    """A claim read back that must be an integer, not a boolean (`TypeError` otherwise)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value
