"""The access log's reason codes and operation codes: the documented tables are the code's lists,
and the log refuses any other code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exchange.access_log import REASON_ZH, AccessEntry, Outcome, Reason, _validated
from exchange.errors import InvalidInput
from exchange.operation_codes import OPERATION_ZH, Operation

DOCS = Path(__file__).resolve().parents[2] / "docs" / "access-log.md"


def test_the_documented_reason_codes_are_the_codes_the_log_accepts() -> None:
    table = DOCS.read_text(encoding="utf-8").split("### Reason codes", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z-]+)` \|", table, flags=re.MULTILINE)
    assert sorted(documented) == sorted(reason.value for reason in Reason)
    assert set(REASON_ZH) == set(Reason)  # citizens see every code in words


def test_the_documented_operations_are_the_operations_the_log_accepts() -> None:
    table = DOCS.read_text(encoding="utf-8").split("### Operations in the chain", 1)[1].split("\n### ", 1)[0]
    documented = re.findall(r"^\| `([a-z-]+)` \|", table, flags=re.MULTILINE)
    assert sorted(documented) == sorted(operation.value for operation in Operation)
    assert set(OPERATION_ZH) == set(Operation)  # the auditor's listing names every one in words
    with pytest.raises(InvalidInput):
        _validated(AccessEntry(outcome=Outcome.OPERATION, reason="consent-missing"))
    with pytest.raises(InvalidInput):
        _validated(AccessEntry(outcome=Outcome.DENIED, reason="certificate-revoked"))


def test_an_undocumented_reason_is_refused() -> None:
    with pytest.raises(InvalidInput):
        _validated(AccessEntry(outcome=Outcome.DENIED, reason="consent-required"))
    assert _validated(AccessEntry(outcome=Outcome.DENIED, reason="consent-missing")).reason == "consent-missing"
