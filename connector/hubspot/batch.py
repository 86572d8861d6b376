"""Match a HubSpot batch reply back to its inputs: who succeeded, who failed and why.

Every input carries a unique ``objectWriteTraceId``. HubSpot then reports failures per input in
a 207 instead of failing the whole batch with a 400 (facts §3), and echoes the trace id on each
result. Errors name the input in their ``context`` where they can; what cannot be matched is
matched by elimination (an input with no result failed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

ItemT = TypeVar("ItemT")

_CONTEXT_KEYS = ("objectWriteTraceId", "objectWriteTraceIds", "ids", "id")


@dataclass(frozen=True, kw_only=True, slots=True)
class Failure:
    message: str
    code: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Input(Generic[ItemT]):
    """One batch input: its trace id, the id HubSpot will report (record id or key), the payload."""

    trace: str
    ref: str
    item: ItemT


@dataclass(frozen=True, kw_only=True, slots=True)
class Matched(Generic[ItemT]):
    succeeded: list[tuple[Input[ItemT], Any]]
    failed: list[tuple[Input[ItemT], Failure]]


def match(inputs: Sequence[Input[ItemT]], reply: Any, *, refs_of: Callable[[Any], Sequence[str]]) -> Matched[ItemT]:
    """Pair results and errors with inputs, by trace id, then by ``refs_of(result)``, then by order."""
    by_trace = {i.trace: i for i in inputs}
    by_ref = {i.ref: i for i in inputs}
    results = list(getattr(reply, "results", None) or [])
    succeeded: list[tuple[Input[ItemT], Any]] = []
    unmatched_results = []
    for result in results:
        found = by_trace.get(getattr(result, "object_write_trace_id", None) or "")
        found = found or next((by_ref[r] for r in refs_of(result) if r in by_ref), None)
        if found is None:
            unmatched_results.append(result)
        else:
            succeeded.append((found, result))
    done = {i.trace for i, _ in succeeded}
    rest = [i for i in inputs if i.trace not in done]
    errors = list(getattr(reply, "errors", None) or [])
    if unmatched_results and not errors and len(unmatched_results) == len(rest):
        # No trace ids echoed and nothing failed: HubSpot keeps input order.
        succeeded.extend(zip(rest, unmatched_results, strict=True))
        return Matched(succeeded=succeeded, failed=[])
    return Matched(succeeded=succeeded, failed=_failures(rest, errors, by_trace, by_ref))


def _failures(rest: list[Input[ItemT]], errors: list[Any], by_trace: dict, by_ref: dict) -> list[tuple[Input[ItemT],
                                                                                                       Failure]]:
    failed: dict[str, tuple[Input[ItemT], Failure]] = {}
    loose: list[Failure] = []
    for error in errors:
        failure = _failure(error)
        named = [item for v in _context_values(error)
                 if (item := by_trace.get(v) or by_ref.get(v)) is not None and item.trace not in failed]
        for item in named:
            failed[item.trace] = (item, failure)
        if not named:
            loose.append(failure)
    leftover = [i for i in rest if i.trace not in failed]
    for n, item in enumerate(leftover):
        if loose:
            failure = loose[n] if len(loose) == len(leftover) else _joined(loose)
        else:
            failure = Failure(message="HubSpot returned no result for this input", code="MISSING_RESULT")
        failed[item.trace] = (item, failure)
    return [failed[i.trace] for i in rest if i.trace in failed]


def _context_values(error: Any) -> list[str]:
    context = getattr(error, "context", None) or {}
    values: list[str] = []
    for key in _CONTEXT_KEYS:
        found = context.get(key) if isinstance(context, dict) else None
        if isinstance(found, str):
            values.append(found)
        elif isinstance(found, list):
            values.extend(str(v) for v in found)
    own = getattr(error, "id", None)
    if own:
        values.append(str(own))
    return values


def _failure(error: Any) -> Failure:
    details = getattr(error, "errors", None) or []
    code = getattr(error, "category", None) or next((getattr(d, "code", None) for d in details if getattr(d, "code",
                                                                                                          None)), None)
    message = getattr(error, "message", None) or "; ".join(getattr(d, "message", "") for d in details) or "rejected"
    return Failure(message=str(message), code=code)


def _joined(failures: list[Failure]) -> Failure:
    messages = list(dict.fromkeys(f.message for f in failures))
    return Failure(message=" | ".join(messages), code=failures[0].code)
