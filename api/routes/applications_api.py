"""Matter handling over HTTP: a department's system files an application for a matter
(`POST /api/v1/matters/{code}/applications`), reads it with its decision and provenance, adds
the applicant's commitments while it waits, withdraws it, and lists the commitments found false. A staff
member signed in on the caseworker page calls the same endpoints with their session
(`api.staff_session`); the caseworker an application names is then always that staff member."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, jsonify, request, url_for

from api.application_services import handling_context, resolve_in_background
from api.auth import CLIENT_SECURITY, client_first, require_client
from api.openapi import LOCATION_HEADER, REPLAYED_HEADER, Blueprint
from api.problems import Problem
from api.staff_session import acting_caseworker_id
from api.schemas.applications import (
    ApplicationCreateSchema,
    ApplicationSchema,
    ApplicationSummarySchema,
    CommitmentQuerySchema,
    CommitmentSchema,
    CommitmentsAddSchema,
    SignedCommitmentSchema,
    TaskQuerySchema,
    TaskResultSchema,
    TaskSchema,
)
from exchange.answer_store import RequestIdConflict
from exchange.applications.context import HandlingContext
from exchange.applications.investigation import OPEN, complete_task, department_tasks
from exchange.applications.leases import new_lease
from exchange.applications.reading import (
    application_document,
    commitment_summary,
    commitment_token,
    department_applications,
    department_commitments,
    item_answer,
    visible_commitment,
)
from exchange.applications.records import ApplicationStatus, CommitmentStatus
from exchange.applications.resolution import resolve_application
from exchange.applications.service import (
    ApplicationBusy,
    ApplicationRequest,
    CaseAlreadyFiled,
    NotAConsumer,
    NotTheFiler,
    PartyInput,
    add_commitments,
    submit_application,
    visible_application,
    withdraw_application,
)
from exchange.clients import ClientScope

blp = Blueprint("applications", __name__, url_prefix="/api/v1",
                description="Matter handlers (办事): applications that pull proofs instead of demanding paper")

RESPOND_ASYNC = "respond-async"
_APPLICATION = ApplicationSchema()
"""The schema `_answer` dumps with, made once: a schema made per response rebuilds its nested schemas each time."""


@blp.route("/matters/<code>/applications", methods=["POST"])
@client_first(ClientScope.APPLICATIONS_WRITE)
@blp.arguments(ApplicationCreateSchema)
@blp.response(201, ApplicationSchema, headers={"Location": LOCATION_HEADER})
@blp.alt_response(200, schema=ApplicationSchema, headers={"Location": LOCATION_HEADER,
                                                          "Idempotent-Replayed": REPLAYED_HEADER},
                  description="The request id was used before for the same application: it is returned")
@blp.alt_response(202, schema=ApplicationSchema, headers={
    "Location": LOCATION_HEADER,
    "Preference-Applied": {"description": "`respond-async` when the answer is 202 because the request asked for it",
                           "schema": {"type": "string", "enum": [RESPOND_ASYNC]}}},
    description="Accepted (Prefer: respond-async, or waiting for a source or a commitment); poll the Location")
@blp.alt_response(403, description="forbidden-by-policy: the client's department does not handle the matter")
@blp.alt_response(404, description="The live catalog has no such matter")
@blp.alt_response(409, description="The request id was used for a different application (pointer #/request_id), "
                                   "or the department filed this case number of the matter before (#/case_number)")
@blp.doc(security=CLIENT_SECURITY, parameters=[{
    "in": "header", "name": "Prefer", "required": False, "schema": {"type": "string", "example": RESPOND_ASYNC},
    "description": "`respond-async`: answer 202 at once and resolve the proofs in the background"}])
def file_application(body: dict[str, Any], code: str) -> Response:
    """File an application and resolve every proof the matter requires, without paper.

    Data-sharing, online-issue and e-license proofs are pulled from their source departments in
    parallel (each an exchange request under the same policy, consent and logging); abolished
    proofs are skipped; commitment proofs take the applicant's signed commitment; investigation
    proofs become a task of their department. The answer is the application with its decision
    (201). With `Prefer: respond-async` it is 202 at once and resolving goes on in the
    background; poll the `Location`. While a source is down the application waits (202) and
    resumes by itself when the source answers again.
    """
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    ctx = handling_context()
    lease = new_lease(ctx)  # taken with the filing: the application is resolved right here (or on a thread)
    try:
        filed = submit_application(ctx, client, code, _request(body), lease)
    except NotAConsumer as refused:
        raise Problem("forbidden-by-policy", str(refused)) from None
    except RequestIdConflict as conflict:
        raise Problem("conflict", str(conflict), errors=[{"pointer": "#/request_id", "detail": str(conflict)}]) from None
    except CaseAlreadyFiled as filed_before:
        raise Problem("conflict", str(filed_before),
                      errors=[{"pointer": "#/case_number", "detail": str(filed_before)}]) from None
    location = url_for("applications.read_application", application_id=filed.application_id)
    if not filed.created:
        replayed = _answer(ctx, filed.application_id, 200, location)
        replayed.headers["Idempotent-Replayed"] = "true"  # as the exchange marks a replay
        return replayed
    if RESPOND_ASYNC in request.headers.get("Prefer", ""):
        resolve_in_background(ctx, filed.application_id, filed.filing)
        return _answer(ctx, filed.application_id, 202, location, preference_applied=True)
    resolve_application(ctx, filed.application_id, filed.filing)
    return _answer(ctx, filed.application_id, 201, location)


@blp.route("/applications")
@client_first(ClientScope.APPLICATIONS_WRITE)
@blp.response(200, ApplicationSummarySchema(many=True))
@blp.doc(security=CLIENT_SECURITY)
def list_applications() -> list[dict[str, Any]]:
    """The client department's applications, newest first (the last 100)."""
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    return department_applications(handling_context(), client.department_code)


@blp.route("/applications/<application_id>")
@client_first(ClientScope.APPLICATIONS_WRITE)
@blp.response(200, ApplicationSchema)
@blp.doc(security=CLIENT_SECURITY)
def read_application(application_id: str) -> dict[str, Any]:
    """One application: each proof with its state and source, the decision with its provenance,
    commitments with their 事后核查, and investigation tasks. Visible to the department that
    filed it and to the departments with a part in a bundled matter."""
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    ctx = handling_context()
    visible_application(ctx, client, application_id)
    return application_document(ctx, application_id)


@blp.route("/applications/<application_id>/receipts/<receipt_id>")
@client_first(ClientScope.APPLICATIONS_WRITE)
@blp.doc(security=CLIENT_SECURITY, responses={
    "200": {"description": "The exchange's answer behind a proof, with its signed receipt, as the exchange returned "
                           "them (`mianzheng receipt verify` checks it offline)",
            "content": {"application/json": {"schema": {"type": "object", "required": ["answer", "receipt"]}}}},
    "404": {"description": "No proof of the application was answered under this receipt"}})
def application_receipt(application_id: str, receipt_id: str) -> Response:
    """The answer and signed receipt behind a value the decision read (`source.receipt_id`):
    what the department shows when asked what the exchange told it. Kept with the application."""
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    ctx = handling_context()
    visible_application(ctx, client, application_id)
    response = jsonify(item_answer(ctx, application_id, receipt_id))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/applications/<application_id>/withdrawal", methods=["POST"])
@client_first(ClientScope.APPLICATIONS_WRITE)
@blp.response(200, ApplicationSchema)
@blp.alt_response(403, description="forbidden-by-policy: only the department that filed the application withdraws it")
@blp.alt_response(404, description="No such application for the client's department")
@blp.alt_response(409, description="conflict: a process is resolving the application right now (retry after "
                                   "`Retry-After` seconds), or it is concluded: decided eligible or not eligible "
                                   "(no `Retry-After`)")
@blp.doc(security=CLIENT_SECURITY)
def withdraw(application_id: str) -> dict[str, Any]:
    """Withdraw an application (filed by mistake, or the applicant gave it up) until it is
    concluded (decided eligible or not eligible, or a bundle with a part decided eligible, which
    the departments may already act on; one decided `needs_review` with no part eligible is
    withdrawn): it is `withdrawn` from then on and nothing resumes it; its open investigation tasks
    leave the investigating department's list and take no finding; commitments can no longer be
    added; the citizen's counter consents for it end once its signed commitments are checked
    (事后核查 still runs); another application of the household is not told it is a duplicate of
    it. Withdrawing it again changes nothing and answers the same."""
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    ctx = handling_context()
    try:
        withdraw_application(ctx, client, application_id)
    except NotTheFiler as refused:
        raise Problem("forbidden-by-policy", str(refused)) from None
    except ApplicationBusy as busy:
        raise Problem("conflict", str(busy), headers={"Retry-After": str(busy.retry_after_seconds)}) from None
    return application_document(ctx, application_id)


@blp.route("/applications/<application_id>/commitments", methods=["POST"])
@client_first(ClientScope.APPLICATIONS_WRITE)
@blp.arguments(CommitmentsAddSchema)
@blp.response(200, ApplicationSchema)
@blp.doc(security=CLIENT_SECURITY)
def commit(body: dict[str, Any], application_id: str) -> dict[str, Any]:
    """Add the applicant's signed commitments to an application that waits for them (or for a
    source, where the matter allows a commitment instead), then resolve it again."""
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    ctx = handling_context()
    add_commitments(ctx, client, application_id, body["commitments"], body["signature"])
    resolve_application(ctx, application_id)
    return application_document(ctx, application_id)


@blp.route("/commitments")
@client_first(ClientScope.APPLICATIONS_WRITE)
@blp.arguments(CommitmentQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, CommitmentSchema(many=True))
@blp.doc(security=CLIENT_SECURITY)
def commitments(args: dict[str, str]) -> list[dict[str, Any]]:
    """The commitments taken in the client department's applications, newest first; `status=false`
    lists those 事后核查 found false, for the department to act on."""
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    status = CommitmentStatus(args["status"]) if "status" in args else None
    return department_commitments(handling_context(), client.department_code, status)


@blp.route("/tasks")
@client_first(ClientScope.APPLICATIONS_WRITE)
@blp.arguments(TaskQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, TaskSchema(many=True))
@blp.doc(security=CLIENT_SECURITY)
def tasks(args: dict[str, str]) -> list[dict[str, Any]]:
    """The investigation tasks (部门核查) handed to the client's department, oldest first
    (default: the open ones)."""
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    return department_tasks(handling_context(), client.department_code, args.get("status", OPEN))


@blp.route("/tasks/<task_id>/result", methods=["POST"])
@client_first(ClientScope.APPLICATIONS_WRITE)
@blp.arguments(TaskResultSchema)
@blp.response(200, TaskSchema)
@blp.alt_response(409, description="conflict: the task has its finding already (the first one stands)")
@blp.doc(security=CLIENT_SECURITY)
def task_result(body: dict[str, Any], task_id: str) -> dict[str, Any]:
    """Report the department's finding for an open task: a value for each field the matter
    receives. The application is decided again with it; the answer is the task, done (the
    investigating department reads no more of the application than its task)."""
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    return complete_task(handling_context(), client, task_id, body["values"])


@blp.route("/commitments/<commitment_id>")
@client_first(ClientScope.APPLICATIONS_WRITE)
@blp.response(200, SignedCommitmentSchema)
@blp.doc(security=CLIENT_SECURITY)
def signed_commitment(commitment_id: str) -> dict[str, Any]:
    """One commitment with its 事后核查, and the commitment as sealed: a JWS of the exchange's seal
    (`typ` mianzheng-commitment+jwt) holding the catalog's commitment text, the fields and values
    committed to, whom they are about (subject key), who signed, how and when."""
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    ctx = handling_context()
    record = visible_commitment(ctx, client.department_code, commitment_id)
    return {**commitment_summary(ctx, record), "token": commitment_token(ctx, record)}


def _request(body: dict[str, Any]) -> ApplicationRequest:
    def party(given: dict[str, Any] | None) -> PartyInput | None:
        return None if given is None else PartyInput(**given)

    return ApplicationRequest(
        request_id=body["request_id"], caseworker_id=acting_caseworker_id(body["caseworker_id"]),
        case_number=body["case_number"],
        applicant=PartyInput(**body["applicant"]), members=[PartyInput(**member) for member in body["members"]],
        child=party(body.get("child")), deceased=party(body.get("deceased")), employer=party(body.get("employer")),
        options=body["options"], counter_consent=body["counter_consent"], consent_days=body["consent_days"],
        commitments=body["commitments"], signature=body.get("signature"),
    )


def _answer(ctx: HandlingContext, application_id: str, status: int, location: str, *, preference_applied: bool = False) -> Response:
    document = _APPLICATION.dump(application_document(ctx, application_id))
    if status == 201 and document["status"] != ApplicationStatus.DECIDED:
        status = 202
    response = jsonify(document)
    response.status_code = status
    response.headers["Location"] = location
    if preference_applied:
        response.headers["Preference-Applied"] = RESPOND_ASYNC
    return response


