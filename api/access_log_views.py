"""The citizen's view of the access log ("who used my data"), shared by the JSON API
(`/api/v1/me/access-log`) and the portal page, so both say the same thing."""

from __future__ import annotations

from typing import Any

from api.live_catalog import naming_catalog
from api.runtime import db
from catalog.model import Catalog
from exchange.access_log import AccessRecord, Outcome, Reason, entries_for_subject
from exchange.clients import ClientRecord, clients_by_public_id
from exchange.consent import Channel, consent_channels

OUTCOME_ZH = {Outcome.ALLOWED: "已允许调取", Outcome.DENIED: "已拒绝", Outcome.FAILED: "未完成"}
NO_RECORD_ZH = "已查询：来源部门无此记录"
"""The second entry of a pull whose source had no record: its result, not a second access."""
BASIS_ZH = {Channel.ONLINE: "本人网上授权", Channel.COUNTER: "窗口书面授权"}
"""A consent as the citizen reads it: given online by themselves, or in writing at a counter
(a guardian's for a child)."""


def access_log_page(subject_key: str, *, limit: int, offset: int, before_seq: int | None = None) -> dict[str, Any]:
    """One page of the entries about the subject, newest first (older than `before_seq` when
    given), named by the catalogs published (a matter a later publication dropped keeps its name)."""
    page = entries_for_subject(db(), subject_key, limit=limit, offset=offset, before_seq=before_seq)
    catalog = naming_catalog()
    clients = clients_by_public_id(db(), {e.client_id for e in page.entries if e.client_id})
    channels = consent_channels(db(), {e.consent_id for e in page.entries if e.consent_id})
    entries = [_entry_view(catalog, entry, clients.get(entry.client_id or ""), channels.get(entry.consent_id or ""))
               for entry in page.entries]
    return {"total": page.total, "limit": limit, "offset": offset, "entries": entries,
            "next_before_seq": page.entries[-1].seq if page.more else None}


def _entry_view(catalog: Catalog, entry: AccessRecord, client: ClientRecord | None,
                consent_channel: str | None) -> dict[str, Any]:
    department = catalog.departments.get(entry.consumer_department or "")
    matter = catalog.matters.get(entry.matter or "")
    proof = catalog.proofs.get(entry.proof or "") or catalog.licenses.get(entry.proof or "")  # 用证: a license type
    return {
        "seq": entry.seq,
        "time": entry.recorded_at,
        "consumer_department": entry.consumer_department,
        "consumer_department_name_zh": department.name_zh if department else None,
        "client_id": entry.client_id,
        "client_name": client.name if client else None,
        "caseworker_id": entry.caseworker_id,
        "case_number": entry.case_number,
        "matter": entry.matter,
        "matter_name_zh": matter.name_zh if matter else None,
        "proof": entry.proof,
        "proof_name_zh": proof.name_zh if proof else None,
        "legal_basis": entry.legal_basis,
        "consent_id": entry.consent_id,
        "basis_zh": BASIS_ZH.get(consent_channel or "", "已授权") if entry.consent_id else entry.legal_basis,
        "purpose": entry.purpose,
        "outcome": entry.outcome,
        "outcome_zh": NO_RECORD_ZH if entry.reason == Reason.SUBJECT_NOT_FOUND and entry.outcome == Outcome.ALLOWED
        else OUTCOME_ZH[Outcome(entry.outcome)],
        "reason": entry.reason,
    }
