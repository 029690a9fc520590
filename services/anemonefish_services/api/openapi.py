"""What ``GET /openapi.json`` publishes beyond powertools' generation, and corrections to it.

Powertools declares a 422 ``HTTPValidationError`` on every operation once validation is on,
and overwrites any 422 a route declares. This API answers a body that fails validation with
a 400 ``ErrorResponse`` naming the field, and its only 422 is a reused Idempotency-Key, so
the document is corrected after generation. A client generated from it must see what the
API sends, or it misreads every error.
"""

from __future__ import annotations

import json
from typing import Any

from anemonefish_services.models.api import ErrorResponse

# Operations whose 422 is real: a repeated Idempotency-Key with another body.
IDEMPOTENT_OPERATIONS = frozenset({("/jobs", "post")})
_POWERTOOLS_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": ErrorResponse}}}


def correct(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (powertools' OpenAPI output) with its 422s and parameter defaults as served."""
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.get("responses", {})
            if "422" not in responses:
                continue
            if (path, method) in IDEMPOTENT_OPERATIONS:
                responses["422"] = {
                    "description": "idempotency_key_reused: this Idempotency-Key came with another request body",
                    "content": {"application/json": {"schema": error_ref}},
                }
            else:
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    # Each once nothing refers to it (they refer to each other).
    while unused := [name for name in _POWERTOOLS_VALIDATION_SCHEMAS
                     if name in schemas and f'"#/components/schemas/{name}"' not in json.dumps(document)]:
        for name in unused:
            del schemas[name]
    # A job's params override the served model's card defaults (threshold 0.4 and smoothing 3
    # for the shipped pair), not the library's seed defaults the model class carries: a
    # client filling in those would change its results.
    params = schemas.get("JobParams")
    if params is not None:
        for field in params.get("properties", {}).values():
            field.pop("default", None)
        params["description"] = ("Detection parameters a job overrides; each one left out takes the served "
                                 "model's own default (its card's detection_defaults).")
    return document
