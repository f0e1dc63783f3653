"""The catalog as people and department systems read it: each matter joined with its proofs,
their effective handling mode, source department and legal basis.

One presentation serves the JSON API and the public web page, so both always agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from catalog.model import Catalog, DataItem, Department, Matter, Proof


def department_view(department: Department) -> dict[str, Any]:
    return asdict(department)


def _item_view(item: DataItem) -> dict[str, Any]:
    return {"name": item.name, "name_zh": item.name_zh, "type": item.type.value, "values": dict(item.values)}


def proof_view(catalog: Catalog, proof: Proof) -> dict[str, Any]:
    department = catalog.departments[proof.department]
    return {
        "code": proof.code,
        "name_zh": proof.name_zh,
        "name_en": proof.name_en,
        "department": proof.department,
        "department_name_zh": department.name_zh,
        "mode": proof.mode.value,
        "mode_zh": proof.mode.label_zh,
        "subject": proof.subject.value,
        "data_items": [_item_view(item) for item in proof.data_items],
        "validity_days": proof.validity_days,
        "legal_basis_zh": proof.legal_basis_zh,
        "commitment_text_zh": proof.commitment_text_zh,
        "matters": [m.code for m in catalog.matters.values() if any(e.proof == proof.code for e in m.proofs)],
    }


def matter_view(catalog: Catalog, matter: Matter) -> dict[str, Any]:
    requirements = []
    for entry in matter.proofs:
        proof = catalog.proofs[entry.proof]
        mode = matter.mode_for(proof)
        requirements.append(
            {
                "proof": proof.code,
                "proof_name_zh": proof.name_zh,
                "mode": mode.value,
                "mode_zh": mode.label_zh,
                "mode_overridden": entry.mode is not None and entry.mode is not proof.mode,
                "department": proof.department,
                "department_name_zh": catalog.departments[proof.department].name_zh,
                "legal_basis_zh": proof.legal_basis_zh,
                "fields": list(entry.fields),
                "scope": entry.scope.value,
                "scope_zh": entry.scope.label_zh,
                "condition_zh": entry.condition_zh,
            }
        )
    return {
        "code": matter.code,
        "name_zh": matter.name_zh,
        "name_en": matter.name_en,
        "domain": matter.domain.value,
        "domain_zh": matter.domain.label_zh,
        "service_code": matter.service_code,
        "legal_basis_zh": matter.legal_basis_zh,
        "consent_required": matter.consent_required,
        "household": matter.household,
        "consumers": list(matter.consumers),
        "rule_zh": matter.rule_zh,
        "proofs": requirements,
        "rules": [asdict(rule) for rule in matter.rules],
    }


def matter_selected(view: dict[str, Any], filters: Mapping[str, str]) -> bool:
    """Whether a matter view passes the filters given (empty values are no filter): `domain`,
    `department` (a consumer, or the source of one of its proofs), `mode` (of any proof, as
    handled for this matter), `proof` (required) and `q` (free text)."""
    requirements = view["proofs"]
    domain, department = filters.get("domain"), filters.get("department")
    mode, proof = filters.get("mode"), filters.get("proof")
    return (
        (not domain or view["domain"] == domain)
        and (not department or department in view["consumers"]
             or any(r["department"] == department for r in requirements))
        and (not mode or any(r["mode"] == mode for r in requirements))
        and (not proof or any(r["proof"] == proof for r in requirements))
        and matches(view, filters.get("q", ""))
    )


def proof_selected(view: dict[str, Any], filters: Mapping[str, str]) -> bool:
    """Whether a proof view passes the filters given: `department` (source), `mode` (default) and `q`."""
    department, mode = filters.get("department"), filters.get("mode")
    return ((not department or view["department"] == department) and (not mode or view["mode"] == mode)
            and matches(view, filters.get("q", "")))


def matches(view: dict[str, Any], query: str) -> bool:
    """Whether a free-text query occurs (case-insensitively) in any text of a view."""
    needle = query.strip().casefold()
    return not needle or needle in _text_of(view).casefold()


def _text_of(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(_text_of(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_text_of(v) for v in value)
    return str(value) if value is not None else ""
