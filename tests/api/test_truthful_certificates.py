"""A sealed certificate states only what is true: a proof whose title asserts a fact (无房证明,
无犯罪记录证明, 未租住公有住房证明 ...) is issued only when the source's record establishes it.
Otherwise the citizen reads the catalog's plain-Chinese explanation, gets nothing sealed, and is
offered the department's neutral document where there is one. Every such proof of the bundled
catalog is tried with a demo resident for whom the fact holds and one for whom it does not."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.settings import Settings
from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import Proof
from exchange.issuance import issuable_proofs
from exchange.sources.records import department_database, read_only_engine, records_table

CATALOG = load_catalog(bundled_catalog_path())
ASSERTING = [proof for proof in issuable_proofs(CATALOG) if proof.asserts is not None]


def resident_where(settings: Settings, proof: Proof, fact_holds: bool) -> tuple[str, str]:
    """(ID number, name) of a demo resident whose record of `proof` does (not) establish its fact."""
    engine = read_only_engine(department_database(settings.sources_dir, proof.department))
    try:
        with engine.connect() as connection:
            for row in connection.execute(select(records_table).where(records_table.c.proof_code == proof.code)):
                assert proof.asserts is not None
                if proof.asserts.holds(json.loads(row.record)) is fact_holds:
                    return row.subject_id, row.subject_name
    finally:
        engine.dispose()
    raise AssertionError(f"no demo resident for whom {proof.code} {'holds' if fact_holds else 'fails'}")


def signed_in(base: str, id_number: str, name: str) -> dict[str, str]:
    response = httpx.post(f"{base}/dev-idp/token", json={"name": name, "id_number": id_number})
    return {"Authorization": f"Bearer {response.json()['assertion']}"}


def request(base: str, headers: dict[str, str], proof: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/me/certificates", headers=headers,
                      json={"proof": proof, "purpose": "申请公租房"}, timeout=30)


def pdf_text(base: str, headers: dict[str, str], certificate: dict[str, Any]) -> str:
    pdf = httpx.get(base + certificate["links"]["pdf"], headers=headers).content
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def test_the_catalog_declares_the_fact_of_every_negative_title() -> None:
    negative_titles = [p.code for p in issuable_proofs(CATALOG) if p.name_zh.startswith(("无", "未", "没有"))]
    assert negative_titles and set(negative_titles) <= {proof.code for proof in ASSERTING}


@pytest.mark.parametrize("proof", ASSERTING, ids=lambda proof: proof.code)
def test_issued_only_when_the_fact_holds(settings: Settings, live_server: str, proof: Proof) -> None:
    assert proof.asserts is not None
    contradicted = signed_in(live_server, *resident_where(settings, proof, fact_holds=False))

    refused = request(live_server, contradicted, proof.code)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "/problems/fact-not-established"
    assert problem["detail_zh"] == proof.asserts.refusal_zh
    assert httpx.get(f"{live_server}/api/v1/me/certificates", headers=contradicted).json() == []

    alternative = CATALOG.proofs.get(proof.asserts.alternative or "")
    if alternative is None:
        assert problem["alternative"] is None
    else:
        assert problem["alternative"] == {"code": alternative.code, "name_zh": alternative.name_zh}
        neutral = request(live_server, contradicted, alternative.code)
        assert neutral.status_code == 201, neutral.text
        assert neutral.json()["proof_name_zh"] == alternative.name_zh
        text = pdf_text(live_server, contradicted, neutral.json())
        assert alternative.name_zh in text.replace(" ", "") and proof.name_zh not in text.replace(" ", "")
        assert "有不动产登记记录" in text.replace(" ", "")

    holding = signed_in(live_server, *resident_where(settings, proof, fact_holds=True))
    issued = request(live_server, holding, proof.code)
    assert issued.status_code == 201, issued.text
    assert issued.json()["proof_name_zh"] == proof.name_zh
    assert "".join(proof.name_zh) in pdf_text(live_server, holding, issued.json()).replace(" ", "")
