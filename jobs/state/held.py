"""A run lock this process holds, and how a state transaction proves it still holds it.

A PostgreSQL session advisory lock lives exactly as long as its session. The session is a
connection of its own that the run otherwise leaves idle, and a server or network ends idle
sessions: ``idle_session_timeout``, a NAT or a pooler dropping quiet connections, a failover, an
operator's ``pg_terminate_backend``. The lock then vanishes without a word, and a second run can
start while the first one still writes. Two defences, both here:

- **it survives what it can**: a heartbeat keeps the session busy (a query at a third of the
  server's ``idle_session_timeout``, at least every 30 s), which also keeps NATs from forgetting
  the connection;
- **every state transaction of the run checks it**: inside the transaction that records a page
  (or a flag, a cursor, learnt tasks), the store asks the server whether *that* session, by
  backend pid and start time (a pid alone may be reused), still holds the lock. If not, the
  transaction is rolled back and ``LockLostError`` stops the run: nothing is recorded after the
  loss, and the next run replays what was not recorded (the CRM-side keys make that harmless).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection

from jobs.state.values import LockLostError

HEARTBEAT_MAX_SECONDS = 30.0
HEARTBEAT_MIN_SECONDS = 0.2

_STILL_HELD = text(
    "SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.classid = CAST(:hi AS oid) AND l.objid = CAST(:lo AS oid) "
    "AND l.pid = :pid AND a.backend_start = :started"
)


@dataclass(kw_only=True)
class HeldLock:
    """The lock of one scope, as long as this process holds it."""

    scope: str
    key: int | None = None
    """PostgreSQL: the advisory key; None for a file lock (the kernel's: it cannot be lost)."""
    pid: int | None = None
    started: dt.datetime | None = None
    lost: str | None = None
    """Why the lock is gone, once the heartbeat or a check found out."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def lost_error(self) -> LockLostError:
        return LockLostError(
            f"the run lock for scope {self.scope!r} was lost while this run held it ({self.lost}); another run may "
            "have started, so this one recorded nothing more and stopped. The next run resumes after the last "
            "page recorded; the CRM-side task keys make repeating its writes harmless. If the database ends idle "
            "sessions (idle_session_timeout) or a pooler or NAT drops quiet connections, see docs/operations.md.")

    def verify(self, conn: Connection) -> None:
        """Raise ``LockLostError`` unless the lock's own session still holds it (inside ``conn``'s
        transaction, so a page is recorded only while the lock was held)."""
        if self.lost is None and self.key is not None:
            unsigned = self.key & 0xFFFF_FFFF_FFFF_FFFF
            held = conn.execute(_STILL_HELD, {"hi": unsigned >> 32, "lo": unsigned & 0xFFFF_FFFF, "pid": self.pid,
                                              "started": self.started}).first()
            if held is None:
                self.lost = f"its PostgreSQL session (backend pid {self.pid}) ended"
        if self.lost is not None:
            raise self.lost_error()

    def keep_alive(self, conn: Connection, conn_lock: threading.Lock, idle_timeout_ms: int) -> None:
        """Start the heartbeat on the lock's own connection."""
        interval = HEARTBEAT_MAX_SECONDS
        if idle_timeout_ms > 0:
            interval = max(HEARTBEAT_MIN_SECONDS, min(interval, idle_timeout_ms / 3000))

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    with conn_lock:
                        if self._stop.is_set():
                            return
                        conn.execute(text("SELECT 1"))
                except Exception as exc:  # noqa: BLE001 - any failure means the session is gone
                    self.lost = f"its PostgreSQL connection failed: {type(exc).__name__}"
                    return

        self._thread = threading.Thread(target=beat, name=f"run-lock-heartbeat {self.scope}", daemon=True)
        self._thread.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
