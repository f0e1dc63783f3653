"""告知承诺: the applicant's signed commitment standing in for a proof.

A caseworker's system offers commitments with the application (or later, while it waits):
for one proof of one party, the values of the fields the matter receives. The applicant signs
them at the counter (the caseworker attests it) or online (an identity assertion of the
applicant). An offer is used only when the proof is handled by commitment in the matter, or
when its source cannot answer and the matter allows commitment as a fallback; otherwise the
data from the source wins and the offer is dropped.

A used commitment is stored as a JWS sealed by the exchange's seal (typ
`mianzheng-commitment+jwt`): the exact commitment text of the catalog, the proof, the fields
and values committed to, whom they are about (subject key), who signed, how and when.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from catalog.model import Matter, Mode, Proof
from exchange.applications.field_values import check_field_values
from exchange.applications.parties import Parties, parties_for_scope
from exchange.errors import InvalidInput
from exchange.record_ids import new_record_id
from exchange.sources.contract import PULLED_MODES
from seals.jws import sign_jws
from seals.keys import Signer

COMMITMENT_TYPE = "mianzheng-commitment+jwt"


class SigningChannel(StrEnum):
    COUNTER = "counter"
    """Signed in person at a service counter; the caseworker attests it."""
    ONLINE = "online"
    """Signed online: the applicant's identity assertion accompanies the commitments."""


@dataclass(frozen=True)
class Signature:
    """How and when the applicant signed the commitments offered together."""

    channel: SigningChannel
    signed_at: datetime
    witness: str | None = None
    """The caseworker who witnessed a counter signature."""
    identity_issuer: str | None = None
    """The identity provider of an online signature."""

    def document(self) -> dict[str, Any]:
        return {"channel": self.channel.value, "signed_at": self.signed_at.isoformat(), "witness": self.witness,
                "identity_issuer": self.identity_issuer}


@dataclass(frozen=True)
class CommitmentOffer:
    """The values an applicant commits to for one proof of one party."""

    proof: str
    party: str
    values: Mapping[str, Any] = field(repr=False)
    signature: Mapping[str, Any]

    def document(self) -> dict[str, Any]:
        return {"proof": self.proof, "party": self.party, "values": dict(self.values), "signature": dict(self.signature)}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> CommitmentOffer:
        return cls(document["proof"], document["party"], document["values"], document["signature"])


def may_commit(matter: Matter, proof: Proof) -> bool:
    """Whether the matter can take a commitment for `proof`: by its mode, or as a fallback."""
    entry = matter.entry(proof.code)
    mode = matter.mode_for(proof)
    return mode is Mode.COMMITMENT or (entry.commitment_fallback and mode in PULLED_MODES)


def checked_offers(matter: Matter, proofs: Mapping[str, Proof], parties: Parties, offers: Sequence[Mapping[str, Any]],
                   signature: Signature) -> list[CommitmentOffer]:
    """The offers as given, or InvalidInput naming the first wrong member (`commitments[i].…`)."""
    checked: list[CommitmentOffer] = []
    seen: set[tuple[str, str]] = set()
    for index, offer in enumerate(offers):
        where = f"commitments[{index}]"
        code, party = offer["proof"], offer.get("party", "applicant")
        if code not in {entry.proof for entry in matter.proofs}:
            raise InvalidInput(f"{where}.proof", f"matter {matter.code} does not require {code}")
        proof = proofs[code]
        if not may_commit(matter, proof):
            raise InvalidInput(f"{where}.proof", f"{code} cannot be replaced by a commitment in {matter.code}")
        if party not in {p.ref for p in parties_for_scope(parties, matter.entry(code).scope)}:
            raise InvalidInput(f"{where}.party", f"{party!r} is not a party whose {code} this matter asks for")
        if (code, party) in seen:
            raise InvalidInput(f"{where}", f"a second commitment for {code} of {party}")
        seen.add((code, party))
        check_field_values(matter, proof, offer["values"], f"{where}.values", signature.signed_at)
        checked.append(CommitmentOffer(code, party, dict(offer["values"]), signature.document()))
    return checked


@dataclass(frozen=True)
class SignedCommitment:
    id: str
    token: str


def seal_commitment(signer: Signer, *, matter: Matter, proof: Proof, offer: CommitmentOffer, application_id: str,
                    case_number: str, subject: str | None, signer_key: str, fallback: bool,
                    sealed_at: datetime) -> SignedCommitment:
    """The commitment as the exchange seals it (see the module docstring)."""
    commitment_id = new_record_id()
    claims = {
        "jti": commitment_id,
        "iat": int(sealed_at.timestamp()),
        "matter": matter.code,
        "application": application_id,
        "case_number": case_number,
        "proof": proof.code,
        "proof_name_zh": proof.name_zh,
        "text_zh": proof.commitment_text_zh,
        "committed": dict(offer.values),
        "subject": subject,
        "signer": {"subject": signer_key, **offer.signature},
        "fallback": fallback,
    }
    return SignedCommitment(commitment_id, sign_jws(claims, signer, typ=COMMITMENT_TYPE))
