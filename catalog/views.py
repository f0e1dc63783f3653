"""The catalog as people and department systems read it: each matter joined with its proofs,
their effective handling mode, source department and legal basis, its options, rules,
priorities, services and re-check; each proof with how a commitment to it is checked; and the
city's constants.

One presentation serves the JSON API and the public web page, so both always agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from catalog.model import (
    Catalog,
    CityConstant,
    DataItem,
    Department,
    Matter,
    MatterOption,
    MatterProof,
    Proof,
    Rule,
    Service,
    Verification,
)


def department_view(department: Department) -> dict[str, Any]:
    return asdict(department)


def _item_view(item: DataItem) -> dict[str, Any]:
    return {"name": item.name, "name_zh": item.name_zh, "type": item.type.value, "values": dict(item.values)}


def city_constant_view(constant: CityConstant) -> dict[str, Any]:
    return asdict(constant)


def _verification_view(catalog: Catalog, verification: Verification | None) -> dict[str, Any] | None:
    if verification is None:
        return None
    return {
        "proof": verification.proof,
        "proof_name_zh": catalog.proofs[verification.proof].name_zh,
        "expression": verification.expression,
    }


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
        "verification": _verification_view(catalog, proof.verification),
        "matters": [m.code for m in catalog.matters.values() if any(e.proof == proof.code for e in m.proofs)],
    }


def _requirement_view(catalog: Catalog, matter: Matter, entry: MatterProof) -> dict[str, Any]:
    proof = catalog.proofs[entry.proof]
    mode = matter.mode_for(proof)
    return {
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
        "when": entry.when,
        "commitment_fallback": entry.commitment_fallback,
    }


def _option_view(option: MatterOption) -> dict[str, Any]:
    return {
        "name": option.name,
        "name_zh": option.name_zh,
        "type": option.type.value,
        "default": option.default,
        "values": dict(option.values),
    }


def _rule_view(rule: Rule) -> dict[str, Any]:
    return {
        "code": rule.code,
        "name_zh": rule.name_zh,
        "expression": rule.expression,
        "outcome_if_false": rule.outcome_if_false.value,
        "outcome_if_false_zh": rule.outcome_if_false.label_zh,
    }


def _service_view(catalog: Catalog, service: Service) -> dict[str, Any]:
    return {
        "code": service.code,
        "name_zh": service.name_zh,
        "department": service.department,
        "department_name_zh": catalog.departments[service.department].name_zh,
        "rules": list(service.rules),
    }


def matter_view(catalog: Catalog, matter: Matter) -> dict[str, Any]:
    recheck = matter.recheck
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
        "options": [_option_view(option) for option in matter.options],
        "proofs": [_requirement_view(catalog, matter, entry) for entry in matter.proofs],
        "rules": [_rule_view(rule) for rule in matter.rules],
        "priorities": [asdict(priority) for priority in matter.priorities],
        "services": [_service_view(catalog, service) for service in matter.services],
        "recheck": {"name_zh": recheck.name_zh, "rules": list(recheck.rules)} if recheck else None,
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
