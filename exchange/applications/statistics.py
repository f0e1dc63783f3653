"""Statistics of paper saved (少交了多少纸质证明): per matter, handling (consumer) department and
month of filing (Beijing time), how the proofs of the applications were settled.

Every required proof item (one per proof per party; `not_required` items are not required)
falls in exactly one category, by its state and, for pulled data, its mode:

- by data: resolved or not_found (a true "no record" answer), mode data_sharing or online_issue;
- by e-license: resolved or not_found, mode e_license;
- by commitment: committed (also a commitment taken because the source could not answer);
- by abolition: abolished;
- by investigation: investigating or investigated (the department checks, not the applicant);
- still needing paper or a caseworker: denied, waiting, awaiting_commitment, pending — except in an
  application since withdrawn, where such an item is neither required nor needed any more (what
  it had settled without paper still counts as saved).

Paper proofs saved are the first five together: the items `reading.PAPERLESS_STATES` counts.
Every figure of a month is about the applications filed in that month: how many were decided
(so far), their median handling time (decided_at − created_at) and how many of their
commitments 事后核查 found false.

Counting (`count_applications`) reads every application once and gives the figures of each
month, matter and handling department; any selection (`paper_statistics`) is added up from those
groups, since it selects whole groups. Counting is SQL aggregation that reads the same on SQLite
and PostgreSQL. What the two spell differently stays out of SQL: the month bucket is a CASE over
the Beijing month boundaries computed here (compared as timestamps), and the median is taken in
Python over the handling times read back (one row per decided application).
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cached_property
from statistics import median
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, select
from sqlalchemy.orm import Session

from catalog.model import Catalog, Mode
from exchange.applications.records import (Application, ApplicationItem, ApplicationStatus, CommitmentRecord,
                                           CommitmentStatus, ItemState)
from catalog.city_time import BEIJING
from exchange.errors import UnknownCode

MONTH_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
"""A month as the API and the page take it: YYYY-MM, of the years 1900 to 2999 (the start of the
month after it, in UTC too, must be a date the calendar can hold)."""

SETTLED_FROM_DATA = (ItemState.RESOLVED, ItemState.NOT_FOUND)
INVESTIGATED = (ItemState.INVESTIGATING, ItemState.INVESTIGATED)
STILL_NEEDING_PAPER = (ItemState.DENIED, ItemState.WAITING, ItemState.AWAITING_COMMITMENT, ItemState.PENDING)


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in Beijing time."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """The month `YYYY-MM`; ValueError for anything else."""
        if not re.fullmatch(MONTH_PATTERN, text):
            raise ValueError(f"not a month YYYY-MM: {text!r}")
        return cls(int(text[:4]), int(text[5:]))

    @classmethod
    def of(cls, moment: datetime) -> Month:
        local = moment.astimezone(BEIJING)
        return cls(local.year, local.month)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def start(self) -> datetime:
        """Midnight of the month's first day, Beijing time."""
        return datetime(self.year, self.month, 1, tzinfo=BEIJING)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class Selection:
    """Which applications to count: of a matter, of a handling department, filed from/to a month."""

    matter: str | None = None
    department: str | None = None
    from_month: Month | None = None
    to_month: Month | None = None


@dataclass
class Figures:
    """The counts of one group of applications (see the module docstring)."""

    applications_filed: int = 0
    applications_decided: int = 0
    proofs_required: int = 0
    saved_by_data: int = 0
    saved_by_e_license: int = 0
    saved_by_commitment: int = 0
    saved_by_abolition: int = 0
    saved_by_investigation: int = 0
    still_needing_paper: int = 0
    commitments_false: int = 0
    handling_seconds: array[float] = field(default_factory=lambda: array("d"), repr=False)
    """decided_at − created_at of every decided application of the group (8 bytes each: a city's
    count keeps one per decided application)."""

    @property
    def paper_saved(self) -> int:
        return (self.saved_by_data + self.saved_by_e_license + self.saved_by_commitment + self.saved_by_abolition
                + self.saved_by_investigation)

    @cached_property
    def median_handling_seconds(self) -> float | None:
        """Taken once (`add` forgets it)."""
        return median(self.handling_seconds) if self.handling_seconds else None

    def settle(self) -> None:
        """Take the median and let go of the handling times it was taken over: a selection kept
        with the count holds its figures, not one more copy of every decided application's
        handling time. Nothing is added to them after."""
        self.__dict__["median_handling_seconds"] = median(self.handling_seconds) if self.handling_seconds else None
        self.handling_seconds = array("d")

    def add(self, other: Figures) -> None:
        for counted in _COUNTS:
            setattr(self, counted, getattr(self, counted) + getattr(other, counted))
        self.handling_seconds.extend(other.handling_seconds)
        self.__dict__.pop("median_handling_seconds", None)

    def as_dict(self) -> dict[str, int | float | None]:
        """Every count, paper_saved and median_handling_seconds."""
        return {**{counted: getattr(self, counted) for counted in _COUNTS}, "paper_saved": self.paper_saved,
                "median_handling_seconds": self.median_handling_seconds}


_COUNTS = tuple(f.name for f in fields(Figures) if f.name != "handling_seconds")


@dataclass(frozen=True)
class Row:
    matter: str
    department: str
    month: Month
    figures: Figures


GroupKey = tuple[Month, str, str]
"""Month of filing, matter, handling department."""


@dataclass(frozen=True)
class CountedApplications:
    """The figures of every application, per month of filing, matter and handling department."""

    groups: dict[GroupKey, Figures]


@dataclass(frozen=True)
class PaperStatistics:
    rows: list[Row]
    """One per matter, handling department and month with an application, by month, matter, department."""
    totals: Figures
    months: list[tuple[Month, Figures]]
    """Every month from the first to the last with an application in the selection, none left out."""
    matters: list[tuple[str, Figures]]
    """The figures added up per matter, in the order the matters first appear in `rows`."""


def _item_counts(withdrawn: ColumnElement[bool]) -> dict[str, ColumnElement[bool]]:
    """The condition on an item of each count; `withdrawn`: its application was withdrawn, so what
    it still lacked is neither required nor brought any more."""
    return {**_ITEM_COUNTS, "proofs_required": and_(_ITEM_COUNTS["proofs_required"],
                                                    ~and_(withdrawn, _ITEM_COUNTS["still_needing_paper"])),
            "still_needing_paper": and_(_ITEM_COUNTS["still_needing_paper"], ~withdrawn)}


_ITEM_COUNTS: dict[str, ColumnElement[bool]] = {
    "proofs_required": ApplicationItem.state != ItemState.NOT_REQUIRED.value,
    "saved_by_data": and_(ApplicationItem.state.in_(SETTLED_FROM_DATA),
                          ApplicationItem.mode.in_((Mode.DATA_SHARING.value, Mode.ONLINE_ISSUE.value))),
    "saved_by_e_license": and_(ApplicationItem.state.in_(SETTLED_FROM_DATA),
                               ApplicationItem.mode == Mode.E_LICENSE.value),
    "saved_by_commitment": ApplicationItem.state == ItemState.COMMITTED.value,
    "saved_by_abolition": ApplicationItem.state == ItemState.ABOLISHED.value,
    "saved_by_investigation": ApplicationItem.state.in_(INVESTIGATED),
    "still_needing_paper": ApplicationItem.state.in_(STILL_NEEDING_PAPER),
}


def check_selection(catalog: Catalog, selection: Selection) -> None:
    """`UnknownCode` naming `matter` or `department` when the selection asks for a code the
    catalog does not have."""
    for name, codes in (("matter", catalog.matters), ("department", catalog.departments)):
        code = getattr(selection, name)
        if code is not None and code not in codes:
            raise UnknownCode(name, f"unknown code {code!r}")


def count_applications(session: Session) -> CountedApplications:
    """The figures of every application held (see the module docstring). They are read in
    several statements, each seeing what is committed when it runs: applications filed after the
    first are left out of all of them, and one decided meanwhile may count as decided in one
    figure and not yet in another; none makes the reading fail."""
    first, last = session.execute(select(func.min(Application.created_at), func.max(Application.created_at))).one()
    if first is None:
        return CountedApplications(groups={})
    months = list(_months(Month.of(first), Month.of(last)))
    filed = select(Application.id, Application.matter, Application.consumer_department.label("department"),
                   _bucket(months).label("month"), Application.created_at, Application.decided_at,
                   Application.status) \
        .where(Application.created_at <= last).subquery()
    item_counts = _item_counts(filed.c.status == ApplicationStatus.WITHDRAWN.value)
    key = (filed.c.month, filed.c.matter, filed.c.department)
    groups: dict[GroupKey, Figures] = {}

    def group(month: str, matter: str, department: str) -> Figures:
        return groups.setdefault((Month.parse(month), matter, department), Figures())

    def collect(query: Select[Any], names: Sequence[str]) -> None:
        for month, matter, department, *values in session.execute(query):
            figures = group(month, matter, department)
            for name, value in zip(names, values):
                setattr(figures, name, value)

    collect(select(*key, func.count(), func.count(filed.c.decided_at)).group_by(*key),
            ("applications_filed", "applications_decided"))
    collect(select(*key, *(func.count(case((condition, 1))) for condition in item_counts.values()))
            .select_from(filed).join(ApplicationItem, ApplicationItem.application_id == filed.c.id).group_by(*key),
            tuple(item_counts))
    collect(select(*key, func.count()).select_from(filed)
            .join(CommitmentRecord, CommitmentRecord.application_id == filed.c.id)
            .where(CommitmentRecord.status == CommitmentStatus.FALSE.value).group_by(*key),
            ("commitments_false",))
    # one row per decided application, so read on the connection: a row at a time, not all at once
    for month, matter, department, created_at, decided_at in session.connection().execute(
            select(*key, filed.c.created_at, filed.c.decided_at).where(filed.c.decided_at.is_not(None))):
        group(month, matter, department).handling_seconds.append((decided_at - created_at).total_seconds())
    return CountedApplications(groups=groups)


def paper_statistics(counted: CountedApplications, selection: Selection) -> PaperStatistics:
    """The figures of the selected applications, added up from the groups counted (the rows are
    the groups' own; the sums keep their medians, not the handling times, `Figures.settle`)."""
    selected = sorted((key, figures) for key, figures in counted.groups.items() if _selects(selection, *key))
    if not selected:
        return PaperStatistics(rows=[], totals=Figures(), months=[], matters=[])
    by_month = {month: Figures() for month in _months(selected[0][0][0], selected[-1][0][0])}
    by_matter: dict[str, Figures] = {}
    totals = Figures()
    rows = []
    for (month, matter, department), figures in selected:
        rows.append(Row(matter, department, month, figures))
        by_month[month].add(figures)
        by_matter.setdefault(matter, Figures()).add(figures)
        totals.add(figures)
    for added_up in (totals, *by_month.values(), *by_matter.values()):
        added_up.settle()
    return PaperStatistics(rows=rows, totals=totals, months=list(by_month.items()), matters=list(by_matter.items()))


def _selects(selection: Selection, month: Month, matter: str, department: str) -> bool:
    return (selection.matter in (None, matter) and selection.department in (None, department)
            and (selection.from_month is None or month >= selection.from_month)
            and (selection.to_month is None or month <= selection.to_month))


def _months(first: Month, last: Month) -> Iterator[Month]:
    month = first
    while month <= last:
        yield month
        month = month.next()


def _bucket(months: Sequence[Month]) -> ColumnElement[str]:
    """The month (YYYY-MM) an application was filed in, for applications filed within `months`."""
    if len(months) == 1:
        return literal(str(months[0]))
    return case(*((Application.created_at < month.next().start(), str(month)) for month in months[:-1]),
                else_=str(months[-1]))
