"""Investigation tasks (部门核查): a proof the catalog handles by investigation is handed to its
department (e.g. the community's 入户调查 for 低保). The department lists its open tasks and
reports the result as values of the fields the matter receives; the application is then
decided again with those values, attributed to the department's investigation. The open task
of an application since withdrawn, or of a proof a publication has since taken out of the
matter, is not listed, and takes no finding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.applications.context import HandlingContext
from exchange.applications.field_values import check_field_values
from exchange.applications.records import Application, ApplicationItem, ApplicationStatus, InvestigationTask, ItemState
from exchange.applications.resolution import item_bound, resolve_application
from exchange.applications.service import ApplicationWithdrawn
from exchange.clients import AuthenticatedClient
from exchange.errors import ExchangeError, InvalidInput, NotFound
from exchange.record_ids import is_record_id
from exchange.unit_of_work import locked_row

OPEN, DONE = "open", "done"


class TaskAlreadyDone(ExchangeError):
    """The task has its finding already (409: the request contradicts the current state)."""


class TaskNotFound(NotFound):
    """No such task for the caller's department."""


class TaskNotRequired(ExchangeError):
    """The published catalog no longer requires the task's proof for its matter (409: the task is
    not to be done; nothing decides by its finding any more)."""


def department_tasks(ctx: HandlingContext, department: str, status: str | None = OPEN) -> list[dict[str, Any]]:
    """The department's tasks (default: the open ones), oldest first, without personal data."""
    query = select(InvestigationTask, Application.matter, Application.case_number).join(
        Application, Application.id == InvestigationTask.application_id).where(InvestigationTask.department == department)
    if status is not None:
        query = query.where(InvestigationTask.status == status)
    if status == OPEN:  # a withdrawn application's task is not to be done
        query = query.where(Application.status != ApplicationStatus.WITHDRAWN.value)
    with ctx.uow.read() as session:
        rows = session.execute(query.order_by(InvestigationTask.created_at)).all()
    return [task_summary(ctx, task, matter, case_number) for task, matter, case_number in rows
            if status != OPEN or _still_required(ctx, matter, task.proof)]  # a dropped proof's task is not to be done


def _still_required(ctx: HandlingContext, matter_code: str, proof: str) -> bool:
    """Whether the live catalog's matter still requires `proof` (a publication may have taken it out)."""
    matter = ctx.catalog.matters.get(matter_code)
    return matter is not None and any(entry.proof == proof for entry in matter.proofs)


def task_summary(ctx: HandlingContext, task: InvestigationTask, matter: str, case_number: str) -> dict[str, Any]:
    proof = ctx.catalog.proofs.get(task.proof)
    fields = ctx.catalog.matters[matter].fields_for(task.proof) if _still_required(ctx, matter, task.proof) else ()
    return {"id": task.id, "application_id": task.application_id, "matter": matter, "case_number": case_number,
            "department": task.department, "proof": task.proof, "proof_name_zh": proof.name_zh if proof else task.proof,
            "fields": list(fields), "status": task.status, "created_at": task.created_at, "completed_at": task.completed_at}


def complete_task(ctx: HandlingContext, client: AuthenticatedClient, task_id: str,
                  values: Mapping[str, Any]) -> dict[str, Any]:
    """Record the department's finding for an open task and decide the application again; the task
    as `task_summary` gives it (the investigating department sees no more of the application)."""
    with ctx.uow.step("record-investigation") as session:
        task = _locked_task(session, task_id)  # two findings at once: the second sees the first
        if task is None or task.department != client.department_code:
            raise TaskNotFound(f"no task {task_id!r} for {client.department_code}")
        if task.status != OPEN:  # a second finding, or two at once: the first one stands
            raise TaskAlreadyDone(f"task {task_id} is already done; the finding recorded first stands")
        # the application's lock before its item: a process resolving it reads both under that lock
        application = locked_row(session, Application, task.application_id)
        item = session.get(ApplicationItem, task.item_id)
        assert application is not None and item is not None
        if application.status == ApplicationStatus.WITHDRAWN:
            raise ApplicationWithdrawn(f"application {application.id} was withdrawn; task {task_id} is not to be done")
        matter = ctx.catalog.matters.get(application.matter)
        if matter is None:
            raise InvalidInput("task", f"matter {application.matter} is no longer in the catalog")
        if not _still_required(ctx, application.matter, task.proof):
            raise TaskNotRequired(f"the published catalog no longer requires proof {task.proof} for matter "
                                  f"{application.matter}; task {task_id} is not to be done")
        check_field_values(matter, ctx.catalog.proofs[task.proof], values, "values", ctx.now())
        task.status, task.completed_at = DONE, ctx.now()
        task.result_sealed = ctx.seal(dict(values), f"task\n{task.id}")
        item.state, item.resolved_at, item.as_of = ItemState.INVESTIGATED.value, ctx.now(), ctx.now()
        item.values_sealed = ctx.seal(dict(values), item_bound(item))
        department = ctx.catalog.departments.get(task.department)
        item.detail = f"{department.name_zh if department else task.department}已核查"
        application_id = application.id
        summary = task_summary(ctx, task, application.matter, application.case_number)
    resolve_application(ctx, application_id)
    return summary



def _locked_task(session: Session, task_id: str) -> InvestigationTask | None:
    if not is_record_id(task_id):
        return None
    try:
        return locked_row(session, InvestigationTask, task_id)
    except LookupError:
        return None
