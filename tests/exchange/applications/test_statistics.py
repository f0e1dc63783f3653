"""The statistics of paper saved agree with the applications themselves: departments file real
applications for demo households over HTTP (公租房 eligible, owner and with a false income
declaration caught by 事后核查, 退休, 居住证, a 低保 application still waiting and one
withdrawn while it waited), and every figure per matter, department and month equals what the
application documents say (what a withdrawn application still lacked is no longer counted). Months are
Beijing months (an application filed at 00:30 on 1 November, Beijing time, is November's), the
median handling time takes the middle of an odd count and the mean of the two middles of an
even one, and the filters select what they say."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from flask import Flask

from api.application_services import handling_context
from api.database import standalone_session
from api.settings import Settings
from exchange.applications.context import HandlingContext
from exchange.clients import AuthenticatedClient
from catalog.city_time import BEIJING
from catalog.versions import read_live_catalog
from demo.applications import public_housing_request
from exchange.applications.post_check import verify_commitments
from exchange.applications.records import Application
from exchange.applications.statistics import Month, Selection, count_applications, paper_statistics
from demo.data import DemoHousehold, demo_households
from tests.api.test_applications import housing_token, now

SAVED = {("resolved", "data_sharing"): "saved_by_data", ("not_found", "data_sharing"): "saved_by_data",
         ("resolved", "online_issue"): "saved_by_data", ("not_found", "online_issue"): "saved_by_data",
         ("resolved", "e_license"): "saved_by_e_license", ("not_found", "e_license"): "saved_by_e_license"}
BY_STATE = {"committed": "saved_by_commitment", "abolished": "saved_by_abolition",
            "investigating": "saved_by_investigation", "investigated": "saved_by_investigation",
            "denied": "still_needing_paper", "waiting": "still_needing_paper",
            "awaiting_commitment": "still_needing_paper", "pending": "still_needing_paper"}
COUNTS = ("applications_filed", "applications_decided", "proofs_required", "saved_by_data", "saved_by_e_license",
          "saved_by_commitment", "saved_by_abolition", "saved_by_investigation", "still_needing_paper",
          "commitments_false", "paper_saved")


class Filing:
    """A department system of each handling department, filing over HTTP and reading back."""

    def __init__(self, settings: Settings, base: str) -> None:
        self.settings, self.base = settings, base
        self.tokens: dict[str, str] = {}
        self.departments: dict[str, str] = {}
        with standalone_session(settings.database_url) as session:
            self.catalog = read_live_catalog(session)

    def households(self, situation: str, count: int = 1) -> list[DemoHousehold]:
        return demo_households(self.settings.sources_dir, self.catalog, situation, count)

    def file(self, department: str, matter: str, body: dict[str, Any]) -> str:
        token = self.tokens.setdefault(department, housing_token(self.settings, department))
        response = httpx.post(f"{self.base}/api/v1/matters/{matter}/applications", json=body, timeout=60,
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (201, 202), response.text
        application_id: str = response.json()["id"]
        self.departments[application_id] = department
        return application_id

    def document(self, application_id: str) -> dict[str, Any]:
        token = self.tokens[self.departments[application_id]]
        response = httpx.get(f"{self.base}/api/v1/applications/{application_id}", timeout=30,
                             headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        return response.json()

    def documents(self) -> list[dict[str, Any]]:
        return [self.document(application_id) for application_id in self.departments]

    def retirement(self, household: DemoHousehold, request_id: str) -> str:
        head = household.members[0]
        return self.file("RS", "RETIREMENT", {
            "request_id": request_id, "caseworker_id": "rs-0007", "case_number": f"TX-{request_id}",
            "applicant": {"name": head.name, "id_number": head.id_number}, "counter_consent": True})

    def residence_permit(self, household: DemoHousehold, request_id: str) -> str:
        head = household.members[0]
        return self.file("GA", "RESIDENCE_PERMIT_APPLICATION", {
            "request_id": request_id, "caseworker_id": "ga-0003", "case_number": f"JZZ-{request_id}",
            "applicant": {"name": head.name, "id_number": head.id_number}, "counter_consent": True,
            "options": {"qualifying_basis": "owned_home"}})

    def withdraw(self, application_id: str) -> None:
        token = self.tokens[self.departments[application_id]]
        response = httpx.post(f"{self.base}/api/v1/applications/{application_id}/withdrawal", timeout=30,
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text

    def minimum_living(self, household: DemoHousehold, request_id: str) -> str:
        """Without the applicant's income commitment: the application waits for it."""
        head, others = household.members[0], household.members[1:]
        return self.file("MZ", "MINIMUM_LIVING_APPLICATION", {
            "request_id": request_id, "caseworker_id": "mz-0011", "case_number": f"DB-{request_id}",
            "applicant": {"name": head.name, "id_number": head.id_number, "relation": head.relation},
            "members": [{"name": m.name, "id_number": m.id_number, "relation": m.relation} for m in others],
            "counter_consent": True})

    def public_housing(self, household: DemoHousehold, request_id: str, **changes: Any) -> str:
        return self.file("ZJ", "PUBLIC_RENTAL_HOUSING", public_housing_request(household, request_id,
                                                                               signed_at=now(), **changes))


@pytest.fixture
def filing(settings: Settings, live_server: str) -> Filing:
    return Filing(settings, live_server)


def file_every_kind(filing: Filing, app: Flask) -> list[dict[str, Any]]:
    """One application of each kind (see the module docstring), 事后核查 run; their documents."""
    [eligible, low_income] = filing.households("public_housing_eligible", 2)
    [owner] = filing.households("owner")
    [poor, given_up] = filing.households("minimum_living", 2)
    filing.public_housing(eligible, "gzf-eligible")
    filing.public_housing(owner, "gzf-owner")
    filing.public_housing(low_income, "gzf-low", declared_income_change=Decimal(-500))
    filing.retirement(owner, "tx-owner")
    filing.residence_permit(owner, "jzz-owner")
    filing.minimum_living(poor, "db-waiting")
    filing.withdraw(filing.minimum_living(given_up, "db-withdrawn"))
    with app.app_context():
        assert verify_commitments(handling_context()).false == 1
    return filing.documents()


def moment(document: dict[str, Any], name: str) -> datetime:
    return datetime.fromisoformat(document[name])


def expected(documents: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The figures per matter, department and Beijing month, counted from the documents."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for document in documents:
        month = moment(document, "created_at").astimezone(BEIJING).strftime("%Y-%m")
        groups.setdefault((document["matter"], document["consumer_department"], month), []).append(document)
    return {key: figures(group) for key, group in groups.items()}


def figures(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    counted = dict.fromkeys(COUNTS, 0)
    handling = []
    for document in documents:
        counted["applications_filed"] += 1
        if document["decided_at"] is not None:
            counted["applications_decided"] += 1
            handling.append((moment(document, "decided_at") - moment(document, "created_at")).total_seconds())
        counted["paper_saved"] += document["paper_saved"]
        counted["commitments_false"] += sum(1 for c in document["commitments"] if c["status"] == "false")
        for item in document["items"]:
            if item["state"] == "not_required" or (document["status"] == "withdrawn"
                                                   and BY_STATE.get(item["state"]) == "still_needing_paper"):
                continue
            counted["proofs_required"] += 1
            counted[SAVED.get((item["state"], item["mode"])) or BY_STATE[item["state"]]] += 1
    return {**counted, "median_handling_seconds": statistics.median(handling) if handling else None}


def computed(settings: Settings, selection: Selection = Selection()) -> dict[tuple[str, str, str], dict[str, Any]]:
    with standalone_session(settings.database_url) as session:
        found = paper_statistics(count_applications(session), selection)
    return {(row.matter, row.department, str(row.month)): row.figures.as_dict() for row in found.rows}


def assert_same(actual: dict[str, Any], wanted: dict[str, Any]) -> None:
    assert {k: actual[k] for k in COUNTS} == {k: wanted[k] for k in COUNTS}
    if wanted["median_handling_seconds"] is None:
        assert actual["median_handling_seconds"] is None
    else:
        assert actual["median_handling_seconds"] == pytest.approx(wanted["median_handling_seconds"], abs=1e-6)


def assert_rows(actual: dict[tuple[str, str, str], dict[str, Any]],
                wanted: dict[tuple[str, str, str], dict[str, Any]]) -> None:
    assert set(actual) == set(wanted)
    for key, figures_wanted in wanted.items():
        assert_same(actual[key], figures_wanted)


def set_times(settings: Settings, application_id: str, created_at: datetime, handling: timedelta | None) -> None:
    """Move an application in time through the ORM: filed at `created_at`, decided `handling` later."""
    with standalone_session(settings.database_url) as session:
        application = session.get(Application, application_id)
        assert application is not None
        application.created_at = created_at
        application.decided_at = None if handling is None else created_at + handling


def test_every_figure_is_what_the_applications_say(settings: Settings, filing: Filing, app: Flask) -> None:
    documents = file_every_kind(filing, app)
    wanted = expected(documents)
    everything = figures(documents)
    # every way of settling a proof, and a false commitment, is among the applications
    assert all(everything[name] > 0 for name in ("saved_by_data", "saved_by_e_license", "saved_by_commitment",
                                                 "saved_by_abolition", "saved_by_investigation",
                                                 "still_needing_paper", "commitments_false"))
    assert everything["applications_decided"] < everything["applications_filed"]

    assert_rows(computed(settings), wanted)
    with standalone_session(settings.database_url) as session:
        found = paper_statistics(count_applications(session), Selection())
    assert_same(found.totals.as_dict(), everything)
    assert found.totals.paper_saved + found.totals.still_needing_paper == found.totals.proofs_required
    [(month, in_month)] = found.months
    assert str(month) == moment(documents[0], "created_at").astimezone(BEIJING).strftime("%Y-%m")
    assert_same(in_month.as_dict(), everything)
    matters = {document["matter"] for document in documents}
    assert [matter for matter, _figures in found.matters] == sorted(matters)  # one entry each, as rows order them
    for matter, per_matter in found.matters:
        assert_same(per_matter.as_dict(), figures([d for d in documents if d["matter"] == matter]))


def test_a_month_is_a_beijing_month(settings: Settings, filing: Filing) -> None:
    [household] = filing.households("owner")
    after_midnight = filing.retirement(household, "tx-after-midnight")
    before_midnight = filing.retirement(household, "tx-before-midnight")
    set_times(settings, after_midnight, datetime(2026, 10, 31, 16, 30, tzinfo=timezone.utc), timedelta(seconds=90))
    set_times(settings, before_midnight, datetime(2026, 10, 31, 15, 59, 59, tzinfo=timezone.utc), timedelta(seconds=30))

    rows = computed(settings)
    assert set(rows) == {("RETIREMENT", "RS", "2026-10"), ("RETIREMENT", "RS", "2026-11")}
    assert rows[("RETIREMENT", "RS", "2026-11")]["median_handling_seconds"] == 90
    assert rows[("RETIREMENT", "RS", "2026-10")]["median_handling_seconds"] == 30
    assert_rows(rows, expected(filing.documents()))
    november = computed(settings, Selection(from_month=Month(2026, 11), to_month=Month(2026, 11)))
    assert_rows(november, expected([filing.document(after_midnight)]))
    october = computed(settings, Selection(to_month=Month(2026, 10)))
    assert_rows(october, expected([filing.document(before_midnight)]))


def test_the_median_handling_time(settings: Settings, filing: Filing) -> None:
    [household] = filing.households("owner")
    filed = [filing.retirement(household, f"tx-median-{n}") for n in range(4)]
    start = datetime(2026, 9, 10, 2, 0, tzinfo=timezone.utc)
    for application_id, seconds in zip(filed, (600, 60, 120, None)):
        set_times(settings, application_id, start, None if seconds is None else timedelta(seconds=seconds))

    def median_of_september() -> dict[str, Any]:
        [(key, figures_found)] = computed(settings).items()
        assert key == ("RETIREMENT", "RS", "2026-09")
        assert_same(figures_found, expected(filing.documents())[key])
        return figures_found

    odd = median_of_september()
    assert (odd["applications_decided"], odd["median_handling_seconds"]) == (3, 120)
    set_times(settings, filed[3], start, timedelta(seconds=1000))
    even = median_of_september()
    assert (even["applications_decided"], even["median_handling_seconds"]) == (4, (120 + 600) / 2)


def test_filters_select_matter_department_and_months(settings: Settings, filing: Filing) -> None:
    [household] = filing.households("owner")
    housing = filing.public_housing(household, "gzf-august")
    retirement = filing.retirement(household, "tx-september")
    permit = filing.residence_permit(household, "jzz-november")
    for application_id, filed_at in ((housing, datetime(2026, 8, 20, 1, 0, tzinfo=timezone.utc)),
                                     (retirement, datetime(2026, 9, 5, 8, 0, tzinfo=timezone.utc)),
                                     (permit, datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc))):
        set_times(settings, application_id, filed_at, timedelta(minutes=5))
    documents = {application_id: filing.document(application_id) for application_id in (housing, retirement, permit)}

    def selected(*application_ids: str) -> dict[tuple[str, str, str], dict[str, Any]]:
        return expected(documents[application_id] for application_id in application_ids)

    assert_rows(computed(settings, Selection(matter="PUBLIC_RENTAL_HOUSING")), selected(housing))
    assert_rows(computed(settings, Selection(department="RS")), selected(retirement))
    assert_rows(computed(settings, Selection(from_month=Month(2026, 9))), selected(retirement, permit))
    assert_rows(computed(settings, Selection(to_month=Month(2026, 9))), selected(housing, retirement))
    assert_rows(computed(settings, Selection(from_month=Month(2026, 9), to_month=Month(2026, 10))),
                selected(retirement))
    assert computed(settings, Selection(matter="RETIREMENT", department="GA")) == {}

    with standalone_session(settings.database_url) as session:
        every_month = paper_statistics(count_applications(session), Selection())
        nothing = paper_statistics(count_applications(session), Selection(matter="RETIREMENT", from_month=Month(2026, 10)))
    assert [str(month) for month, _ in every_month.months] == ["2026-08", "2026-09", "2026-10", "2026-11"]
    for month, in_month in every_month.months:
        assert_same(in_month.as_dict(), figures([d for d in documents.values()
                                                 if moment(d, "created_at").astimezone(BEIJING).strftime("%Y-%m")
                                                 == str(month)]))
    assert (nothing.rows, nothing.months, nothing.totals.as_dict()["applications_filed"]) == ([], [], 0)


def test_an_application_decided_while_the_figures_are_read_breaks_nothing(
        ctx: HandlingContext, settings: Settings, client: AuthenticatedClient) -> None:
    """The figures are read in several statements. A department that files and decides its first
    application of a matter between them must not make the page fail (it did: a 500)."""
    from exchange.applications.leases import new_lease
    from exchange.applications.resolution import resolve_application
    from exchange.applications.service import ApplicationRequest, PartyInput, submit_application
    from exchange.clients import ClientScope, register_client
    from tests.exchange.applications.conftest import housing_request

    filed = submit_application(ctx, client, "PUBLIC_RENTAL_HOUSING", housing_request(ctx, settings, "stats-race-1"),
                               new_lease(ctx))
    resolve_application(ctx, filed.application_id, filed.filing)
    with ctx.pull.sessions() as session:
        record, _token = register_client(session, ctx.catalog, "RS", "社保业务系统", [ClientScope.APPLICATIONS_WRITE])
        session.commit()
    pensions = AuthenticatedClient(record.public_id, "RS", record.name, frozenset(record.scope_list))
    [household] = demo_households(settings.sources_dir, ctx.catalog, "public_housing_eligible", 1)
    head = household.members[0]

    def a_first_retirement() -> None:
        retirement = submit_application(ctx, pensions, "RETIREMENT", ApplicationRequest(
            request_id="stats-race-2", caseworker_id="rs-0007", case_number="TX-stats-race-2",
            applicant=PartyInput(name=head.name, id_number=head.id_number), counter_consent=True), new_lease(ctx))
        resolve_application(ctx, retirement.application_id, retirement.filing)

    with ctx.uow.read() as session:
        reading, statements = session.execute, []

        def a_new_group_meanwhile(*args: Any, **kwargs: Any) -> Any:
            statements.append(1)
            if len(statements) == 4:  # before the last of the session's (the handling times are read after it)
                a_first_retirement()
            return reading(*args, **kwargs)

        session.execute = a_new_group_meanwhile  # type: ignore[method-assign]
        figures = paper_statistics(count_applications(session), Selection())
    assert len(statements) >= 4
    assert figures.totals.applications_filed >= 1 and figures.totals.applications_decided >= 1


def test_a_selection_kept_with_the_count_holds_its_figures_not_the_handling_times() -> None:
    """Anyone may ask for any span of months, and each selection is kept with the count: it must
    keep its medians, not another copy of every decided application's handling time per total,
    month and matter (recheck: 420 anonymous requests grew a worker by 300 MB at 52,000)."""
    import tracemalloc
    from array import array

    from api.counted_statistics import CityStatistics
    from exchange.applications.statistics import CountedApplications, Figures
    from exchange.licenses.statistics import CountedLicenses

    times = array("d", (float(n % 5000) for n in range(30_000)))
    groups = {(Month(2026, month), matter, "ZJ"): Figures(handling_seconds=times[2 * (month - 1) + n::24])
              for month in range(1, 13) for n, matter in enumerate(("A", "B"))}  # 24 groups, every time once
    counted = CityStatistics(CountedApplications(groups), CountedLicenses.__new__(CountedLicenses),
                             datetime.now(timezone.utc), took=0.1, counted_on=0.0, pace=0.1)
    everything = counted.paper(Selection())
    assert everything.totals.median_handling_seconds == statistics.median(times)
    assert everything.months[0][1].median_handling_seconds == statistics.median(times[0::24] + times[1::24])
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for first in range(1, 13):
        for last in range(first, 13):
            counted.paper(Selection(from_month=Month(2026, first), to_month=Month(2026, last)))
    grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert grown < 500_000, f"78 selections kept {grown} bytes (the times alone are {len(times) * 8})"
