"""The state store: what AfterClose remembers between runs (cursors, the task ledger, run history,
rejected records, revisits, NPS responses, schedule slots), in SQLite or PostgreSQL.

``open_store(url)`` gives a ``SqlStateStore``; code that only uses a store asks for the
``StateStore`` protocol. One module per concern: lock.py, cursors.py, ledger.py, runs.py,
recording.py (the one path results are recorded by), nps.py, slots.py; tables.py and
migrations/ hold the schema.
"""

from jobs.state.engine import DEFAULT_STATE_URL, VERSION_TABLE, schema_head
from jobs.state.port import StateStore
from jobs.state.store import SqlStateStore, open_store
from jobs.state.tables import metadata
from jobs.state.values import (
                               LockLostError,
                               NpsRecord,
                               NpsStatus,
                               RejectedRecord,
                               RunOutcome,
                               RunRecord,
                               RunSummary,
                               SchemaTooNewError,
                               SourceReject,
                               StateCorruptError,
                               StateStoreError,
                               StoredNpsResponse,
)

__all__ = [
    "DEFAULT_STATE_URL", "VERSION_TABLE", "LockLostError", "NpsRecord", "NpsStatus", "RejectedRecord", "RunOutcome",
    "RunRecord", "RunSummary", "SchemaTooNewError", "SourceReject", "SqlStateStore", "StateCorruptError",
    "StateStore", "StateStoreError",
    "StoredNpsResponse",
    "metadata", "open_store", "schema_head",
]
