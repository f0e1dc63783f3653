"""Liveness and readiness probes for load balancers and operators."""

from __future__ import annotations

from datetime import datetime, timezone

import marshmallow as ma
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.database_trouble import DatabaseTrouble, database_trouble
from api.openapi import Blueprint
from api.problems import Problem
from api.runtime import db, runtime
from catalog.versions import latest_version
from exchange.identity import InvalidKeyMaterial
from exchange.job_heartbeats import JOBS_NAME, jobs_state

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


class LivenessSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})


class JobsSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "ok, late (no pass for 3 intervals) or absent (never ran)"})
    last_beat = ma.fields.DateTime(allow_none=True, metadata={"description": "When the jobs last finished a pass"})


class ReadinessSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ready"})
    database = ma.fields.String(metadata={"example": "ok"})
    catalog_version = ma.fields.Integer(metadata={"description": "Number of the live catalog version"})
    jobs = ma.fields.Nested(JobsSchema, metadata={"description": "The scheduled jobs' heartbeat"})


@blp.route("/healthz")
@blp.response(200, LivenessSchema)
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


_NOT_READY = {
    DatabaseTrouble.UNREACHABLE: "The database server cannot be reached: check that it runs, and "
                                 "MIANZHENG_DATABASE_URL.",
    DatabaseTrouble.LOGIN_REFUSED: "The database server refuses the login: check the user and password in "
                                   "MIANZHENG_DATABASE_URL.",
    DatabaseTrouble.FILE_UNOPENED: "The database file cannot be opened: check that its folder exists and can be "
                                   "written.",
    DatabaseTrouble.MISSING: "The database does not exist on its server: create it, then run `mianzheng init`.",
    DatabaseTrouble.UNINITIALISED: "The database is not initialised: run `mianzheng init`.",
    DatabaseTrouble.READ_ONLY: "The database is read-only.",
    DatabaseTrouble.FULL: "The database's disk is full.",
    DatabaseTrouble.STORAGE_ERROR: "The database's storage fails (disk I/O error).",
}
"""What an operator reading `/readyz` is told of a database that failed."""


@blp.route("/readyz")
@blp.response(200, ReadinessSchema)
@blp.alt_response(503, description="The database is unreachable, holds no catalog yet, or the jobs stopped")
def readyz() -> dict[str, object]:
    """The database answers, a catalog has been published, and the scheduled jobs are not late
    (they are reported `absent` where none ever ran against this database)."""
    session = db()
    try:
        session.execute(text("SELECT 1"))
        version = latest_version(session)
        jobs = jobs_state(session, JOBS_NAME, datetime.now(timezone.utc))
    except SQLAlchemyError as error:
        raise Problem("service-unavailable", _NOT_READY.get(
            database_trouble(error), f"The database does not answer ({type(error).__name__}).")) from None
    if version is None:
        raise Problem("service-unavailable", "No catalog has been published yet: run `mianzheng init`.")
    try:
        runtime().identity
    except InvalidKeyMaterial as broken:  # every sign-in would be a 503
        raise Problem("service-unavailable", f"The identity provider configuration is broken: {broken}") from None
    if jobs.late:
        raise Problem("service-unavailable", f"The scheduled jobs have not run since {jobs.last_beat:%Y-%m-%dT%H:%M:%SZ}: "
                      "waiting applications do not resume and the status list is not renewed.")
    return {"status": "ready", "database": "ok", "catalog_version": version.number,
            "jobs": {"status": jobs.status, "last_beat": jobs.last_beat}}
