"""The rule that keeps a sealed certificate true to its title: a proof whose title asserts a
fact (无房证明: no property registered; 无犯罪记录证明: no criminal record; ...) is issued only
when the record pulled from its source department establishes that fact.

The catalog declares the fact per proof (`Proof.asserts`: the data item and the value it must
have). When the record does not establish it, issuance stops with `FactNotEstablished`, which
carries the department's plain-Chinese explanation and, where the department issues one, the
neutral document (不动产登记信息查询结果) that states the result either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.model import Catalog, Proof
from exchange.errors import ExchangeError


class FactNotEstablished(ExchangeError):
    """The record does not establish the fact the proof's title asserts; nothing is issued.

    `refusal_zh` is the explanation for the holder; `alternative` the neutral proof offered
    instead, or None when the department issues none."""

    def __init__(self, proof: Proof, refusal_zh: str, alternative: Proof | None) -> None:
        super().__init__(f"the record does not establish what proof {proof.code} states "
                         f"({proof.asserts.item if proof.asserts else '?'}); no certificate was issued")
        self.proof = proof
        self.refusal_zh = refusal_zh
        self.alternative = alternative


def ensure_fact_holds(catalog: Catalog, proof: Proof, record: Mapping[str, Any]) -> None:
    """`FactNotEstablished` unless `record` establishes what `proof`'s title asserts (a proof
    asserting nothing always passes)."""
    assertion = proof.asserts
    if assertion is None or assertion.holds(record):
        return
    alternative = catalog.proofs.get(assertion.alternative) if assertion.alternative else None
    raise FactNotEstablished(proof, assertion.refusal_zh, alternative)
