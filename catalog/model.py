"""The catalog's domain objects: departments, proofs and their data items, matters (with their
options, rules, priorities, services and re-check), the city's constants, the e-license types
(证照目录, with their 用证清单), and the vocabularies
(handling modes, domains, scopes) with the Chinese labels the public page shows.

Everything here is immutable. `Catalog.from_document` builds a catalog from a document that
is already known to be valid (the output of `Catalog.to_document`, or a document checked by
`catalog.loading`); untrusted input goes through `catalog.loading.catalog_from_document`.

These dataclasses are the one description of each entry: their fields' types, defaults and shapes
(`catalog.field_shapes`) also make the source files' schemas (`catalog.schemas`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple, Self

from catalog.documents import built, document_of
from catalog import field_shapes as shapes
from catalog.field_shapes import CODE_PATTERN, LICENSE_TYPE_CODE_PATTERN, NAME_PATTERN, SERVICE_CODE_PATTERN, Shape, shaped
from core.canonical import canonical_sha256


class _LabelledEnum(StrEnum):
    """A string enum whose members also carry a Chinese label: `Member = "value", "标签"`."""

    label_zh: str

    def __new__(cls, value: str, label_zh: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label_zh = label_zh
        return member


class Mode(_LabelledEnum):
    """How a proof is handled instead of the citizen fetching paper (取消替代方式)."""

    ABOLISHED = "abolished", "直接取消"
    DATA_SHARING = "data_sharing", "数据共享"
    E_LICENSE = "e_license", "电子证照"
    COMMITMENT = "commitment", "告知承诺"
    INVESTIGATION = "investigation", "部门核查"
    ONLINE_ISSUE = "online_issue", "网上开具"

    @property
    def pulled(self) -> bool:
        """Whether the exchange pulls the proof's data from its source department in this mode."""
        return self in (Mode.DATA_SHARING, Mode.E_LICENSE, Mode.ONLINE_ISSUE)


class Domain(_LabelledEnum):
    """The life or business domain a matter belongs to."""

    HOUSING = "housing", "住房保障"
    BIRTH = "birth", "出生"
    EDUCATION = "education", "教育"
    EMPLOYMENT = "employment", "就业"
    BUSINESS = "business", "企业开办"
    REAL_ESTATE = "real_estate", "不动产登记"
    RESIDENCE = "residence", "户籍与居住"
    SOCIAL_ASSISTANCE = "social_assistance", "社会救助"
    PENSION = "pension", "养老退休"
    AFTER_DEATH = "after_death", "身后事"
    EXIT_ENTRY = "exit_entry", "出入境"
    HOUSING_FUND = "housing_fund", "住房公积金"


class Subject(_LabelledEnum):
    """Whom a proof is about."""

    PERSON = "person", "自然人"
    ORGANISATION = "organisation", "法人和其他组织"


class Scope(_LabelledEnum):
    """Whose proof a matter asks for."""

    APPLICANT = "applicant", "申请人"
    APPLICANT_AND_SPOUSE = "applicant_and_spouse", "申请人及配偶"
    EACH_MEMBER = "each_member", "家庭每位成员"
    CHILD = "child", "子女"
    DECEASED = "deceased", "逝者"
    EMPLOYER = "employer", "用人单位"

    @property
    def reaches_household(self) -> bool:
        """Whether the scope covers people other than the applicant (needs `household`)."""
        return self in (Scope.APPLICANT_AND_SPOUSE, Scope.EACH_MEMBER, Scope.CHILD, Scope.DECEASED)

    @property
    def one_subject(self) -> bool:
        """Whether the scope names one subject, whose proof expressions read as <proof>.<field>."""
        return self in (Scope.APPLICANT, Scope.CHILD, Scope.DECEASED, Scope.EMPLOYER)

    @property
    def required_subject(self) -> Subject | None:
        """What a proof asked for in this scope must be about (None: either kind)."""
        if self is Scope.APPLICANT:
            return None
        return Subject.ORGANISATION if self is Scope.EMPLOYER else Subject.PERSON


class Outcome(_LabelledEnum):
    """What a matter's decision is when one of its eligibility rules is false."""

    NOT_ELIGIBLE = "not_eligible", "不符合条件"
    NEEDS_REVIEW = "needs_review", "需人工审核"


class ItemType(StrEnum):
    """The type of a proof's data item."""

    STRING = "string"
    ID_NUMBER = "id_number"
    USCC = "uscc"
    ENUM = "enum"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    DECIMAL = "decimal"
    REGION_CODE = "region_code"
    LIST = "list"


class OptionType(StrEnum):
    """The type of a matter option: a yes/no choice, or one of listed values."""

    BOOLEAN = "boolean"
    ENUM = "enum"


@dataclass(frozen=True)
class Department:
    """A department that holds data, consumes it, or both."""

    code: str = shapes.code()
    name_zh: str
    name_en: str
    legal_name_zh: str
    """The full legal name, as on the department's seal and its certificates (金华市公安局)."""
    uscc: str = shaped(Shape(credit_code=True))


@dataclass(frozen=True)
class DataItem:
    """One field of a proof. `values` maps value codes to Chinese labels: required for an
    enum, optional for a list (the vocabulary of its elements), empty otherwise. `printed`
    False: the item is exchanged but not printed on an e-certificate, which states it itself
    (the source's own certificate number, issue date or purpose of search)."""

    name: str = shapes.name()
    name_zh: str
    type: ItemType
    values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    printed: bool = True


@dataclass(frozen=True)
class Verification:
    """How 事后核查 checks a commitment to a proof: pull `proof` (a proof with a source) and
    evaluate `expression` (CEL over committed.<field of the committed proof>, record.<field of
    `proof`> and city.<constant>; must give a bool). expression None: the committed fields must
    equal the record's fields of the same name."""

    proof: str = shapes.code()
    expression: str | None = shapes.expression(None)


@dataclass(frozen=True)
class Assertion:
    """The fact a proof's title asserts (无房证明: no property registered): the proof may be
    issued only when data item `item` has `value`. Otherwise the holder reads `refusal_zh`, and
    is offered proof `alternative` when the department issues a neutral document (不动产登记信息
    查询结果) that states the result either way."""

    item: str = shapes.name()
    value: bool | str = shaped(Shape(fact_value=True))
    refusal_zh: str
    alternative: str | None = shapes.code(None)

    def holds(self, record: Mapping[str, Any]) -> bool:
        """Whether `record` (item name -> value, as the source answered) establishes the fact;
        a missing or null value does not."""
        return self.item in record and record[self.item] is not None and record[self.item] == self.value


@dataclass(frozen=True)
class Proof:
    """A proof (证明事项), its source department and its default handling mode."""

    code: str = shapes.code()
    name_zh: str
    name_en: str
    department: str = shapes.code()
    mode: Mode
    subject: Subject
    data_items: tuple[DataItem, ...]
    validity_days: int | None = shaped(Shape(minimum=1, maximum=3650, range_error="must be between {min} and {max} "
                                             "(or null)", type_error="must be a whole number of days or null"))
    legal_basis_zh: str
    commitment_text_zh: str | None = None
    verification: Verification | None = None
    asserts: Assertion | None = None
    as_of_search: bool = False
    """The proof states the result of a search, true only as of when it was made."""
    issued_to_subject: bool = True
    """False: the person the proof is about does not ask for it themself (a birth, a death, a
    child's vaccinations), so a citizen is not offered it as their own certificate."""

    def item(self, name: str) -> DataItem:
        """The data item called `name`; KeyError if the proof has none."""
        for item in self.data_items:
            if item.name == name:
                return item
        raise KeyError(f"proof {self.code} has no data item {name!r}")


@dataclass(frozen=True)
class MatterProof:
    """A proof as one matter requires it: the mode override, the fields the matter may
    receive, whose proof it is, and an optional condition (`condition_zh` for people, `when`
    as CEL: the proof is required only when it is true). `commitment_fallback`: when the source
    cannot answer, the applicant may commit to the proof instead."""

    proof: str = shapes.code()
    fields: tuple[str, ...] = shapes.name()
    scope: Scope
    mode: Mode | None = None
    condition_zh: str | None = None
    when: str | None = shapes.expression(None)
    commitment_fallback: bool = False


@dataclass(frozen=True)
class MatterOption:
    """A choice the applicant makes when applying (e.g. 申请优先配租), read by rules and `when`
    as application.<name>."""

    name: str = shapes.name()
    name_zh: str
    type: OptionType
    default: bool | str
    values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Enum only: value code -> Chinese label; the default is one of them."""


@dataclass(frozen=True)
class Rule:
    """An eligibility rule of a matter: a CEL expression over the fields the matter receives
    (see `catalog.rules`), and the outcome when it is false."""

    code: str = shapes.name()
    name_zh: str
    expression: str = shapes.expression()
    outcome_if_false: Outcome


@dataclass(frozen=True)
class Priority:
    """A priority a matter grants (e.g. 低保家庭优先配租): a CEL expression read like a rule;
    true: the decision lists this priority."""

    code: str = shapes.name()
    name_zh: str
    expression: str = shapes.expression()


@dataclass(frozen=True)
class Service:
    """One department's part of a bundled matter (一件事): decided by the listed rules."""

    code: str = shapes.name()
    name_zh: str
    department: str = shapes.code()
    rules: tuple[str, ...] = shaped(Shape(pattern=NAME_PATTERN, rule_codes=True))


@dataclass(frozen=True)
class Recheck:
    """The periodic re-check (年度复核) of a matter's beneficiaries: the rules re-evaluated on fresh data."""

    name_zh: str
    rules: tuple[str, ...] = shaped(Shape(pattern=NAME_PATTERN, rule_codes=True,
                                                 at_least_one="list at least one rule"))


@dataclass(frozen=True)
class Matter:
    """A high-frequency matter (事项) and the proofs it requires."""

    code: str = shapes.code()
    name_zh: str
    name_en: str
    domain: Domain
    legal_basis_zh: str
    consent_required: bool
    household: bool
    consumers: tuple[str, ...] = shapes.code()
    rule_zh: str
    proofs: tuple[MatterProof, ...] = shaped(Shape(at_least_one="list at least one proof"))
    service_code: str | None = shaped(Shape(pattern=SERVICE_CODE_PATTERN), None)
    rules: tuple[Rule, ...] = ()
    options: tuple[MatterOption, ...] = ()
    priorities: tuple[Priority, ...] = ()
    services: tuple[Service, ...] = ()
    recheck: Recheck | None = None

    def entry(self, proof_code: str) -> MatterProof:
        """How this matter requires `proof_code`; KeyError if it does not."""
        for entry in self.proofs:
            if entry.proof == proof_code:
                return entry
        raise KeyError(f"matter {self.code} does not require proof {proof_code}")

    def mode_for(self, proof: Proof) -> Mode:
        """The mode `proof` is handled in for this matter: the override, else its default.

        Takes the proof rather than its code because the default lives on the proof.
        """
        return self.entry(proof.code).mode or proof.mode

    def fields_for(self, proof_code: str) -> tuple[str, ...]:
        """The data items of `proof_code` this matter may receive (data minimisation)."""
        return self.entry(proof_code).fields

    def option(self, name: str) -> MatterOption:
        """The option called `name`; KeyError if the matter has none."""
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(f"matter {self.code} has no option {name!r}")

    def option_defaults(self) -> dict[str, bool | str]:
        """Each option's default, by name: what `application` holds before the applicant chooses."""
        return {option.name: option.default for option in self.options}


@dataclass(frozen=True)
class CityConstant:
    """A threshold of the city that rules read as city.<name> (e.g. the minimum living standard)."""

    name: str = shapes.name()
    name_zh: str
    value: float = shaped(Shape(type_error="must be a finite number"))
    unit_zh: str


class ValidityRule(_LabelledEnum):
    """How long a license of a type is valid (证照有效期规则)."""

    PERMANENT = "permanent", "长期有效"
    YEARS = "years", "自签发之日起计算"
    STATED = "stated", "以证照载明的有效期为准"


@dataclass(frozen=True)
class LicenseUse:
    """One line of a license type's 用证清单: for `matter`, `departments` may use the license,
    receiving only `items`, for `purpose_zh`."""

    matter: str = shapes.code()
    departments: tuple[str, ...] = shaped(Shape(pattern=CODE_PATTERN, at_least_one="list at least one department"))
    items: tuple[str, ...] = shaped(Shape(pattern=NAME_PATTERN, at_least_one="list at least one data item"))
    purpose_zh: str


@dataclass(frozen=True)
class LicenseType:
    """A type of e-license (电子证照) in the 证照目录: who issues it, whom it is held by (a person
    by ID number, an organisation by USCC), its data items, validity rule and uses.

    `type_code` is the 4-digit type segment of its GB/T 36904 identifiers (licenses use 2xxx;
    certificates 1xxx). `proof`: the proof a license of this type answers when a matter handles
    that proof in mode e_license. `validity_years` is set only for the rule `years`."""

    code: str = shapes.code()
    type_code: str = shaped(Shape(pattern=LICENSE_TYPE_CODE_PATTERN))
    name_zh: str
    name_en: str
    department: str = shapes.code()
    holder: Subject
    data_items: tuple[DataItem, ...] = shaped(Shape(at_least_one="list at least one data item"))
    validity: ValidityRule
    legal_basis_zh: str
    uses: tuple[LicenseUse, ...]
    validity_years: int | None = shaped(Shape(minimum=1, maximum=99, range_error="must be between {min} and {max}",
                                              type_error="must be a whole number of years"), None)
    proof: str | None = shapes.code(None)
    one_per_holder: bool = False
    """A holder has at most one license of the type not revoked (营业执照: one per credit code); a
    new one is refused while it has one, which is amended instead."""

    def item(self, name: str) -> DataItem:
        """The data item called `name`; KeyError if the type has none."""
        for item in self.data_items:
            if item.name == name:
                return item
        raise KeyError(f"license type {self.code} has no data item {name!r}")

    def use_for(self, department: str, matter: str) -> LicenseUse | None:
        """The 用证清单 line that lets `department` use this license for `matter` (deny by default)."""
        return next((use for use in self.uses if use.matter == matter and department in use.departments), None)


class IssuedKind(NamedTuple):
    """A kind of document a department issues: its catalog code, the issuer's USCC and the name the
    document bears. The name belongs to it: a seal that may make one kind of document may not
    print another kind's name over it."""

    code: str
    issuer_uscc: str
    name_zh: str


@dataclass(frozen=True)
class Catalog:
    """The whole catalog; each mapping is keyed by code (city constants by name) and keeps the
    source order."""

    departments: Mapping[str, Department]
    proofs: Mapping[str, Proof]
    matters: Mapping[str, Matter]
    city: Mapping[str, CityConstant] = field(default_factory=lambda: MappingProxyType({}))
    licenses: Mapping[str, LicenseType] = field(default_factory=lambda: MappingProxyType({}))

    def may_request(self, consumer: str, matter: str, proof: str) -> bool:
        """Whether department `consumer` may ask for `proof` for `matter`.

        Deny by default: only if the matter lists the consumer and requires the proof, and the
        proof is not abolished for the matter. Unknown codes are denied, never an error.
        """
        found = self.matters.get(matter)
        if found is None or consumer not in found.consumers:
            return False
        try:
            return found.mode_for(self.proofs[proof]) is not Mode.ABOLISHED
        except KeyError:
            return False

    def city_values(self) -> dict[str, float]:
        """The city constants' values by name: what rules read as `city`."""
        return {name: constant.value for name, constant in self.city.items()}

    def to_document(self) -> dict[str, Any]:
        """The catalog as a plain JSON-able dict, in the format of the source files
        (`catalog.documents`); `city` and `licenses` only when there are some (so a document
        without them keeps its hash)."""
        sections = {name: [document_of(entry) for entry in getattr(self, name).values()] for name in _SECTIONS}
        return {name: entries for name, entries in sections.items() if entries or name not in _OPTIONAL_SECTIONS}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Catalog:
        """Build a catalog from a valid document (see the module docstring)."""
        sections = {name: [built(kind, entry) for entry in document.get(name, [])] for name, kind in _SECTIONS.items()}
        return cls(**{name: MappingProxyType({_key(entry): entry for entry in entries})
                      for name, entries in sections.items()})

    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of `to_document()`: sorted keys, no
        whitespace, UTF-8 without escaping. Entry order counts; YAML layout and comments do not.
        Computed once per catalog (it is immutable)."""
        known = self.__dict__.get("_content_hash")
        if known is None:
            known = self.__dict__["_content_hash"] = canonical_sha256(self.to_document())
        return known


_SECTIONS: dict[str, type] = {"departments": Department, "proofs": Proof, "matters": Matter, "city": CityConstant,
                              "licenses": LicenseType}
_OPTIONAL_SECTIONS = frozenset({"city", "licenses"})


def _key(entry: Any) -> str:
    """What a catalog's section is keyed by: a city constant's name, every other entry's code."""
    return entry.name if isinstance(entry, CityConstant) else entry.code
