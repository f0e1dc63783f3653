"""The OpenAPI 3 description of the connector REST API, which every source department's
system implements. The reference connector serves it at /openapi.json and
docs/connectors.md reproduces it (a test keeps the two equal)."""

from __future__ import annotations

from typing import Any

from exchange.sources.wire import NAME_MAX_LENGTH, QUERY_PATH

CONTRACT_VERSION = "1.0.0"


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def connector_openapi() -> dict[str, Any]:
    """The connector API as an OpenAPI 3.0 document (plain JSON-able data)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "mianzheng connector contract",
            "version": CONTRACT_VERSION,
            "description": (
                "The API a source department's system offers the proof-free city's exchange: look up "
                "the record of one subject for one proof and return every data item of the proof as "
                "the published catalog defines it. The query is a POST so that ID numbers never appear "
                "in URLs or access logs; it only reads, so it is idempotent and the exchange may retry it."
            ),
        },
        "paths": {
            QUERY_PATH: {
                "post": {
                    "operationId": "queryRecord",
                    "summary": "The record of one subject for one proof",
                    "security": [{"exchangeToken": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Query"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "The department holds a record of the subject",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}},
                        },
                        "400": _problem_response("The query is invalid (type /problems/invalid-request, with errors naming the fields)"),
                        "401": _problem_response("No valid bearer token (type /problems/unauthenticated)"),
                        "404": _problem_response(
                            "The department holds no record of this subject for this proof, or none under the "
                            "name given (type /problems/subject-not-found)"
                        ),
                        "503": _problem_response(
                            "The department's system cannot answer now; the exchange retries with backoff "
                            "(type /problems/service-unavailable, optionally with Retry-After)"
                        ),
                    },
                }
            }
        },
        "components": {
            "securitySchemes": {
                "exchangeToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The shared token configured for this connector and in the exchange's sources file",
                }
            },
            "schemas": {
                "Query": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["proof", "subject"],
                    "properties": {
                        "proof": {"type": "string", "description": "Code of a proof of this department in the catalog", "example": "NO_HOUSING"},
                        "subject": {"$ref": "#/components/schemas/Subject"},
                    },
                },
                "Subject": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": "A person by `id_number`, or, for a proof about an organisation, the organisation by `uscc`",
                    "properties": {
                        "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9X]$", "description": "GB 11643 citizen ID number"},
                        "uscc": {"type": "string", "pattern": "^[0-9A-HJ-NP-RTUWXY]{18}$", "description": "GB 32100 unified social credit code"},
                        "name": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": NAME_MAX_LENGTH,
                            "description": "Optional; when given it must match the name the department holds",
                        },
                    },
                },
                "Answer": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["proof", "as_of", "record"],
                    "properties": {
                        "proof": {"type": "string", "description": "The proof asked for"},
                        "as_of": {
                            "type": "string",
                            "format": "date-time",
                            "description": "When the department's data was current, ISO 8601 with a UTC offset",
                            "example": "2026-11-01T02:00:00+08:00",
                        },
                        "record": {
                            "type": "object",
                            "description": (
                                "Every data item of the proof by name, typed as the catalog says: string, "
                                "id_number, uscc, enum (a value code), date (YYYY-MM-DD), datetime (ISO 8601 "
                                "with offset), boolean, integer, decimal (a string such as \"1234.50\"), "
                                "region_code (six digits), list (an array); null where not applicable"
                            ),
                            "additionalProperties": True,
                        },
                    },
                },
                "Problem": {
                    "type": "object",
                    "description": "RFC 9457 problem details",
                    "required": ["type", "title", "status"],
                    "properties": {
                        "type": {"type": "string", "example": "/problems/subject-not-found"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "instance": {"type": "string"},
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        },
    }
