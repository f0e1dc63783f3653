"""The catalog as people and department systems read it: each matter joined with its proofs,
their effective handling mode, source department and legal basis, its options, rules,
priorities, services and re-check; each proof with how a commitment to it is checked; and the
city's constants.

One presentation serves the JSON API and the public web page, so both always agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.documents import members_of
from catalog.model import Catalog, CityConstant, Department, Matter, MatterProof, Proof, Verification


def department_view(department: Department) -> dict[str, Any]:
    return members_of(department)


def city_constant_view(constant: CityConstant) -> dict[str, Any]:
    return members_of(constant)


def _verification_view(catalog: Catalog, verification: Verification | None) -> dict[str, Any] | None:
    if verification is None:
        return None
    return {**members_of(verification), "proof_name_zh": catalog.proofs[verification.proof].name_zh}


def proof_view(catalog: Catalog, proof: Proof) -> dict[str, Any]:
    return {
        **members_of(proof),
        "department_name_zh": catalog.departments[proof.department].name_zh,
        "mode_zh": proof.mode.label_zh,
        "verification": _verification_view(catalog, proof.verification),
        "matters": [m.code for m in catalog.matters.values() if any(e.proof == proof.code for e in m.proofs)],
    }


def _requirement_view(catalog: Catalog, matter: Matter, entry: MatterProof) -> dict[str, Any]:
    proof = catalog.proofs[entry.proof]
    mode = matter.mode_for(proof)
    return {
        **members_of(entry),
        "proof_name_zh": proof.name_zh,
        "mode": mode.value,
        "mode_zh": mode.label_zh,
        "mode_overridden": entry.mode is not None and entry.mode is not proof.mode,
        "department": proof.department,
        "department_name_zh": catalog.departments[proof.department].name_zh,
        "legal_basis_zh": proof.legal_basis_zh,
        "scope_zh": entry.scope.label_zh,
    }


def matter_view(catalog: Catalog, matter: Matter) -> dict[str, Any]:
    return {
        **members_of(matter),
        "domain_zh": matter.domain.label_zh,
        "proofs": [_requirement_view(catalog, matter, entry) for entry in matter.proofs],
        "rules": [{**members_of(rule), "outcome_if_false_zh": rule.outcome_if_false.label_zh} for rule in matter.rules],
        "services": [{**members_of(service), "department_name_zh": catalog.departments[service.department].name_zh}
                     for service in matter.services],
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
