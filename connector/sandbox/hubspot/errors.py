"""HubSpot's error shapes, and the exception the handlers raise to answer with one.

Body shape [DOC: https://developers.hubspot.com/docs/api-reference/error-handling; facts §3]::

    {"status": "error", "message": "..", "correlationId": "<uuid>", "category": "VALIDATION_ERROR",
     "errors": [{"message": "..", "code": "..", "context": {"propertyName": ["x"]}}]}

Per-input errors inside a 207 are ``StandardError`` objects: ``status``, ``category``, ``message``,
``context``, ``errors`` and ``links`` are all required [SPEC ``StandardError`` in every CRM object spec
and the v4 associations spec of HubSpot/HubSpot-public-api-spec-collection; the SDK models refuse a
reply without them when client-side validation is on], plus ``context.objectWriteTraceId`` so the
caller can tell which input failed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(message: str, category: str, *, errors: list[dict] | None = None,
               context: dict[str, list[str]] | None = None, sub_category: str | None = None) -> dict:
    body: dict = {"status": "error", "message": message, "correlationId": correlation_id(),
                  "category": category}
    if sub_category:
        body["subCategory"] = sub_category
    if errors:
        body["errors"] = errors
    if context:
        body["context"] = context
    return body


def standard_error(message: str, category: str, *, context: dict[str, list[str]] | None = None,
                   errors: list[dict] | None = None, sub_category: str | None = None) -> dict:
    """One entry of a 207 reply's ``errors[]`` (``StandardError``)."""
    out: dict = {"status": "error", "category": category, "message": message, "context": context or {},
                 "errors": errors or [], "links": {}}
    if sub_category:
        out["subCategory"] = sub_category
    return out


def detail(message: str, code: str, **context: list[str]) -> dict:
    """One entry of ``errors[]``: what failed, a machine code, and where (e.g. ``propertyName``)."""
    entry: dict = {"message": message, "code": code}
    if context:
        entry["context"] = context
    return entry


class ApiError(Exception):
    """Raise from a handler to answer ``status`` with HubSpot's error body."""

    def __init__(self, status: int, message: str, category: str, *, errors: list[dict] | None = None,
                 context: dict[str, list[str]] | None = None, sub_category: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = error_body(message, category, errors=errors, context=context, sub_category=sub_category)


def validation_error(message: str, *, errors: list[dict] | None = None, **context: list[str]) -> ApiError:
    return ApiError(400, message, "VALIDATION_ERROR", errors=errors, context=context or None)


def not_found(message: str) -> ApiError:
    return ApiError(404, message, "OBJECT_NOT_FOUND")


@dataclass(eq=False)
class InputError(Exception):
    """Why one input of a batch (or a single write) was refused.

    ``status`` is what a whole-request failure answers (400 VALIDATION_ERROR; 409 CONFLICT for a
    contact whose email exists, [2ND: https://github.com/HubSpot/hubspot-api-python/issues/51]).
    """

    message: str
    category: str = "VALIDATION_ERROR"
    status: int = 400
    errors: list[dict] = field(default_factory=list)
    context: dict[str, list[str]] = field(default_factory=dict)

    def as_standard_error(self, trace_id: str | None) -> dict:
        context = dict(self.context)
        if trace_id:
            context["objectWriteTraceId"] = [trace_id]
        return standard_error(self.message, self.category, context=context, errors=self.errors)

    def as_api_error(self) -> ApiError:
        return ApiError(self.status, self.message, self.category, errors=self.errors or None,
                        context=self.context or None)
