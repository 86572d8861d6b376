"""The sync job (job.py), the deal stream it reads and writes through (stream.py), and the page
writer that records pages in order (writer.py)."""

from jobs.sync.job import (
           JOB,
           KEPT_ACTIONS,
           RELEARN,
           TASK_KEY_MODE,
           SyncJob,
           SyncReport,
           check_schema_or_raise,
           run_sync,
)
from jobs.sync.stream import DECISIONS_PER_DEAL, PAGES_IN_FLIGHT, DealBudget, DealStream

__all__ = ["DECISIONS_PER_DEAL", "JOB", "KEPT_ACTIONS", "PAGES_IN_FLIGHT", "RELEARN", "TASK_KEY_MODE", "DealBudget",
           "DealStream", "SyncJob", "SyncReport", "check_schema_or_raise", "run_sync"]
