"""Who an application is about: the applicant, the household's other members, and, where a
matter's proofs reach them, a child, a deceased person or an employer.

A party is named by a short reference that is safe to store in clear (`applicant`,
`member:2`, `child` ...); its ID number and name live only in the sealed parties document.
`parties_for_scope` says whose proof a matter entry asks for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from catalog.citizen_id import mask_id_number
from catalog.model import Scope
from exchange.subjects import subject_key

APPLICANT = "applicant"
CHILD = "child"
DECEASED = "deceased"
EMPLOYER = "employer"
SPOUSE_RELATIONS = frozenset({"spouse"})


@dataclass(frozen=True)
class Party:
    """One person or organisation an application is about."""

    ref: str
    name: str
    id_number: str | None = field(default=None, repr=False)
    uscc: str | None = None
    relation: str | None = None
    consent_id: str | None = None

    @property
    def query_id(self) -> str:
        """What the source is asked for: the ID number of a person, the USCC of an organisation."""
        return self.id_number or self.uscc or ""

    @property
    def label(self) -> str:
        """How the party is shown to a caseworker: the name and the masked identifier."""
        shown = mask_id_number(self.id_number) if self.id_number else self.uscc or ""
        return f"{self.name}（{shown}）"

    def with_consent(self, consent_id: str) -> Party:
        return Party(self.ref, self.name, self.id_number, self.uscc, self.relation, consent_id)


@dataclass(frozen=True)
class Parties:
    """Everyone an application is about; `household` is the applicant first, then the members."""

    applicant: Party
    members: tuple[Party, ...] = ()
    child: Party | None = None
    deceased: Party | None = None
    employer: Party | None = None

    @property
    def household(self) -> tuple[Party, ...]:
        return (self.applicant, *self.members)

    def all(self) -> tuple[Party, ...]:
        extra = (party for party in (self.child, self.deceased, self.employer) if party is not None)
        return (*self.household, *extra)

    def get(self, ref: str) -> Party:
        for party in self.all():
            if party.ref == ref:
                return party
        raise KeyError(ref)

    def to_document(self) -> dict[str, Any]:
        return {"parties": [asdict(party) for party in self.all()]}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Parties:
        parties = [Party(**entry) for entry in document["parties"]]
        by_ref = {party.ref: party for party in parties}
        return cls(
            applicant=by_ref[APPLICANT],
            members=tuple(party for party in parties if party.ref.startswith("member:")),
            child=by_ref.get(CHILD), deceased=by_ref.get(DECEASED), employer=by_ref.get(EMPLOYER),
        )

    def replaced(self, updated: Sequence[Party]) -> Parties:
        """These parties with each of `updated` put in place of the party with the same ref."""
        by_ref = {party.ref: party for party in updated}

        def pick(party: Party) -> Party:
            return by_ref.get(party.ref, party)

        def pick_optional(party: Party | None) -> Party | None:
            return None if party is None else pick(party)

        return Parties(pick(self.applicant), tuple(pick(member) for member in self.members),
                       pick_optional(self.child), pick_optional(self.deceased), pick_optional(self.employer))


def parties_for_scope(parties: Parties, scope: Scope) -> tuple[Party, ...]:
    """The parties whose proof an entry of this scope asks for (empty when the party is absent)."""
    if scope is Scope.APPLICANT:
        return (parties.applicant,)
    if scope is Scope.EACH_MEMBER:
        return parties.household
    if scope is Scope.APPLICANT_AND_SPOUSE:
        return (parties.applicant, *(m for m in parties.members if m.relation in SPOUSE_RELATIONS))
    single = {Scope.CHILD: parties.child, Scope.DECEASED: parties.deceased, Scope.EMPLOYER: parties.employer}[scope]
    return (single,) if single is not None else ()


def about_key(hash_key: bytes, parties: Parties) -> str | None:
    """The keyed hash of the child or deceased person an application is about, if any."""
    party = parties.child or parties.deceased
    return subject_key(hash_key, party.id_number) if party is not None and party.id_number else None
