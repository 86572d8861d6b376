"""The batch envelope every ``/batch/*`` route shares: input limits, and 200/201 vs 207 vs 400.

- at most 100 inputs, else 400 VALIDATION_ERROR (facts §3, [2ND quoting the contacts guide]);
- 207 with ``numErrors``/``errors`` only when every input carries a unique ``objectWriteTraceId``;
  otherwise one bad input fails the whole batch with 400 and nothing is written (facts §3);
- success bodies ``{status: "COMPLETE", results, requestedAt, startedAt, completedAt}``
  [DOC: https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/objects/batch/create-objects].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from connector.sandbox.hubspot import timefmt
from connector.sandbox.hubspot.errors import ApiError, InputError, validation_error

MAX_INPUTS = 100
Plan = TypeVar("Plan")


def inputs_of(body: object, *, limit: int = MAX_INPUTS) -> list[dict]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise validation_error("Invalid input JSON: 'inputs' must be a list of objects")
    if not inputs:
        raise validation_error("'inputs' must not be empty")
    if len(inputs) > limit:
        raise validation_error(f"Too many inputs: {len(inputs)} given, at most {limit} allowed in one batch",
                               errors=[{"message": f"inputs must contain at most {limit} items",
                                        "code": "TOO_MANY_INPUTS", "context": {"limit": [str(limit)]}}])
    return inputs


def partial_allowed(inputs: list[dict]) -> bool:
    traces = [i.get("objectWriteTraceId") for i in inputs]
    return all(isinstance(t, str) and t for t in traces) and len(set(traces)) == len(traces)


def run(inputs: list[dict], prepare: Callable[[int, dict], Plan], apply: Callable[[Plan], dict], *,
        ok_status: int, partial: bool | None = None) -> tuple[int, dict]:
    """Prepare every input (validation, no writes), then apply the good ones.

    ``partial`` forces the 207 rule (batch read reports missing ids per input regardless of trace ids).
    """
    started = timefmt.now_ms()
    partial = partial_allowed(inputs) if partial is None else partial
    plans: list[tuple[int, Plan]] = []
    failures: list[tuple[int, InputError]] = []
    for index, item in enumerate(inputs):
        try:
            plans.append((index, prepare(index, item)))
        except InputError as problem:
            failures.append((index, problem))
    if failures and not partial:
        raise failures[0][1].as_api_error()
    results = [apply(plan) for _, plan in plans]
    body = completed(results, started)
    if not failures:
        return ok_status, body
    body["numErrors"] = len(failures)
    body["errors"] = [problem.as_standard_error(inputs[i].get("objectWriteTraceId")) for i, problem in failures]
    return 207, body


def completed(results: list[dict], started_ms: int) -> dict:
    stamp = timefmt.iso_from_ms(started_ms)
    return {"status": "COMPLETE", "results": results, "requestedAt": stamp, "startedAt": stamp,
            "completedAt": timefmt.iso_from_ms(timefmt.now_ms())}


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ApiError(400, message, "VALIDATION_ERROR")
