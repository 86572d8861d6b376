"""Counting what the CRM did with a run's writes: shared by the sync and NPS jobs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from connector.actions import ActionResult
from jobs import logs

log = logs.get_logger("afterclose.run")


def tally(results: Sequence[ActionResult], outcomes: Counter, rejected: list[ActionResult]) -> None:
    """Count each outcome; keep and log each record the CRM refused, with its own message."""
    for r in results:
        outcomes[r.outcome.value] += 1
        if r.rejected:
            rejected.append(r)
            log.warning("record_rejected", deal_id=r.action.deal_id, key=getattr(r.action, "key", None),
                        crm_message=r.message, error_code=r.error_code, correlation_id=r.correlation_id)
