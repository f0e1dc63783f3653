"""The committed test vectors (tests/vectors/, made by scripts/make_test_vectors.py from a fixed
TEST-ONLY PKI) give the verdicts their manifest states, at the manifest's fixed time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exchange.certificates.model import parse_time
from exchange.certificates.verify import verify_certificate
from seals.trust import TrustStore

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))
MAX_TOTAL_BYTES = 2_000_000


@pytest.fixture(scope="module")
def trust() -> TrustStore:
    return TrustStore.load(VECTORS / MANIFEST["trust"])


@pytest.fixture(scope="module")
def status_list() -> str:
    return (VECTORS / MANIFEST["status_list"]).read_text(encoding="ascii").strip()


@pytest.mark.parametrize("vector", MANIFEST["vectors"], ids=[vector["name"] for vector in MANIFEST["vectors"]])
def test_vector_gives_the_expected_verdict(vector: dict[str, Any], trust: TrustStore, status_list: str) -> None:
    verdict = verify_certificate((VECTORS / vector["file"]).read_bytes(), trust, status_list,
                                 id_number=vector["id_number"], now=parse_time(MANIFEST["now"]))
    expected = vector["expected"]
    assert verdict.form == vector["form"]
    assert verdict.status.value == expected["status"], verdict.to_dict()["checks"]
    if expected["check"] is not None:
        named = next(result for result in verdict.checks if result.check.value == expected["check"])
        assert (named.status.value, named.code) == (expected["status"], expected["code"])


def test_every_case_of_the_issue_is_covered() -> None:
    names = {vector["name"] for vector in MANIFEST["vectors"]}
    for case in ("valid", "expired", "revoked", "other-root", "edited", "wrong-holder"):
        assert {f"{case}-{form}" for form in ("pdf", "credential", "qr")} <= names
    assert {"attachment-swapped-after-signing", "attachment-swapped-before-signing"} <= names


def test_vectors_stay_small_hold_no_private_key_and_name_a_test_only_root() -> None:
    files = [path for path in VECTORS.rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in files) < MAX_TOTAL_BYTES
    assert not [path for path in files if b"PRIVATE KEY" in path.read_bytes()]
    assert "TEST ONLY" in TrustStore.load(VECTORS / MANIFEST["trust"]).root.subject.rfc4514_string()
