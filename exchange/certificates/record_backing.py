"""What a source's record must say before a certificate may state it: a sealed document states
only what its data supports.

- A proof stating a search result (无房证明, 不动产登记信息查询结果, 无犯罪记录证明, 未承租公有住房证明)
  states it from one boolean item (`StatedResult`): the record must give it (a null is no
  answer, never "no"), and an item counting the same thing must agree with it (no 无房证明 over a
  record listing two properties).
- Such a statement is "截至" the time the search covered: the source's answer time, or the
  record's own search time or period end when earlier, never after issuance (`searched_until`).
  The certificate is valid for the proof's days from issuance; the verifier reads how old the
  search is from the 截至 time it states.
- A record naming a person (`full_name`) names the holder: no sealed table shows another name.
- A record names whom it is about (its `full_name` or `id_number`, where the proof has them), and
  a search result where the source searched (`search_scope_region`).
- A period (`X_start`, `X_end`; issued or valid from, valid until) does not end before it starts.
- A record stating its own end (a permit's 有效期至, a lease's end) limits the certificate's
  validity to the end of that day, Beijing time, and one past it is not sealed (`record_end`).

`unbacked` gives the reason (in Chinese) a record cannot back its certificate; issuance refuses
with it before anything is allocated or signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from catalog.city_time import BEIJING, format_date_zh
from catalog.model import Proof


@dataclass(frozen=True)
class StatedResult:
    """The result a proof's statement states: boolean `item` (`negative` when false, `positive`
    when true); `searched` the item saying up to when the source searched (a date or a time), if
    the record has one; `count` an item counting what `item` is about, which is 0 exactly when
    `item` is false."""

    item: str
    negative: str
    positive: str
    searched: str | None = None
    count: str | None = None
    scope: str | None = None
    """The item naming where the source searched, which the statement names: it must be given."""


STATED_RESULTS: Mapping[str, StatedResult] = {
    "NO_HOUSING": StatedResult("has_registered_property", "无不动产登记记录", "有不动产登记记录",
                               searched="searched_at", count="property_count", scope="search_scope_region"),
    "REAL_ESTATE_SEARCH": StatedResult("has_registered_property", "无不动产登记记录", "有不动产登记记录",
                                       searched="searched_at", count="property_count", scope="search_scope_region"),
    "NO_CRIMINAL_RECORD": StatedResult("has_criminal_record", "未发现有犯罪记录", "有犯罪记录", searched="period_end"),
    "NOT_RENTING_PUBLIC_HOUSING": StatedResult("is_renting_public_housing", "未承租公有住房或保障性住房",
                                               "承租有公有住房或保障性住房", searched="checked_at"),
}
RECORD_ENDS = ("valid_until", "lease_end")
"""Date items by which a record states until when what it records holds (a permit, a lease)."""
PERIODS = (("issued_at", "valid_until"), ("valid_from", "valid_until"))
"""Pairs of date items, besides every `X_start` and `X_end`, of which the first may not come after the second."""


def searched_until(proof: Proof, record: Mapping[str, Any], answered_as_of: datetime, issued_at: datetime) -> datetime:
    """Up to when the search a certificate of `proof` states covered: the source's answer time,
    or the record's own search time (or the end of its period's last day) when earlier; never
    after `issued_at`."""
    stated = STATED_RESULTS.get(proof.code)
    moments = [answered_as_of, issued_at]
    if stated is not None and stated.searched is not None:
        moments.append(_moment(record.get(stated.searched), end_of_day=True))
    return min(moment for moment in moments if moment is not None)


def record_end(record: Mapping[str, Any]) -> datetime | None:
    """The end of the last day, Beijing time, of what the record states holds (`RECORD_ENDS`)."""
    ends = [_moment(record.get(name), end_of_day=True) for name in RECORD_ENDS]
    return min((end for end in ends if end is not None), default=None)


def unbacked(proof: Proof, record: Mapping[str, Any], holder_name: str, issued_at: datetime) -> str | None:
    """Why `record` cannot back a certificate of `proof` for `holder_name` issued at `issued_at`,
    in Chinese; None when it can."""
    labels = {item.name: item.name_zh for item in proof.data_items}
    named = record.get("full_name")
    if isinstance(named, str) and named != holder_name:
        return "记录中的姓名与申请人姓名不一致"
    identifying = [name for name in ("full_name", "id_number") if name in labels]
    if identifying and all(record.get(name) is None for name in identifying):
        return "记录未载明所涉之人"
    pairs = [(start, start.removesuffix("_start") + "_end") for start in labels if start.endswith("_start")]
    for start, end in [*pairs, *PERIODS]:
        begins, ends = _moment(record.get(start), end_of_day=False), _moment(record.get(end), end_of_day=False)
        if begins is not None and ends is not None and ends < begins and start in labels and end in labels:
            return f"记录中的“{labels[end]}”早于“{labels[start]}”"
    stated = STATED_RESULTS.get(proof.code)
    if stated is not None:
        result = record.get(stated.item)
        if not isinstance(result, bool):
            return f"记录未载明“{labels.get(stated.item, stated.item)}”"
        if stated.scope is not None and record.get(stated.scope) is None:
            return f"记录未载明“{labels.get(stated.scope, stated.scope)}”"
        count = record.get(stated.count) if stated.count else None
        if isinstance(count, int) and not isinstance(count, bool) and (count > 0) != result:
            return (f"记录中“{labels.get(stated.item, stated.item)}”与“{labels.get(stated.count or '', '')}”"
                    f"（{count}）不一致")
    end = record_end(record)
    if end is not None and end <= issued_at:
        return f"记录载明的有效期已于{format_date_zh(end.astimezone(BEIJING).date())}届满"
    return None


def _moment(value: Any, *, end_of_day: bool) -> datetime | None:
    """A record's date (its day's last second, Beijing time) or time, None when it is neither."""
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 10:  # the day's last second is taken as such: 9999-12-31 has no day after it
            return datetime.combine(date.fromisoformat(value), time(23, 59, 59) if end_of_day else time(), BEIJING)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
