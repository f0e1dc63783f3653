"""How 事后核查 can check a commitment to a proof: the catalog's `verification` when it has
one; otherwise, for a proof that some source department holds, re-pulling the same proof and
comparing the committed fields; otherwise not at all by data (the department checks on site)."""

from __future__ import annotations

from catalog.model import Catalog, Proof, Verification
from exchange.sources.contract import pulled_proofs


def verification_for(catalog: Catalog, proof: Proof) -> Verification | None:
    """The verification of a commitment to `proof`, or None when no source can check it."""
    if proof.verification is not None:
        return proof.verification
    if any(held.code == proof.code for held in pulled_proofs(catalog)):
        return Verification(proof=proof.code)
    return None


def verifiable(catalog: Catalog, proof: Proof) -> bool:
    return verification_for(catalog, proof) is not None
