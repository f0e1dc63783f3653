"""Liveness and readiness probes for load balancers and operators."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.openapi import Blueprint
from api.problems import Problem
from api.runtime import db
from catalog.versions import latest_version

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


class LivenessSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})


class ReadinessSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ready"})
    database = ma.fields.String(metadata={"example": "ok"})
    catalog_version = ma.fields.Integer(metadata={"description": "Number of the live catalog version"})


@blp.route("/healthz")
@blp.response(200, LivenessSchema)
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.response(200, ReadinessSchema)
@blp.alt_response(503, description="The database is unreachable or holds no catalog yet")
def readyz() -> dict[str, object]:
    """The database answers and a catalog has been published."""
    session = db()
    try:
        session.execute(text("SELECT 1"))
        version = latest_version(session)
    except SQLAlchemyError as error:
        raise Problem(
            "service-unavailable",
            f"The database does not answer or is not initialised ({type(error).__name__}): run `mianzheng init`.",
        ) from None
    if version is None:
        raise Problem("service-unavailable", "No catalog has been published yet: run `mianzheng init`.")
    return {"status": "ready", "database": "ok", "catalog_version": version.number}
