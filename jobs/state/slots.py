"""Schedule slots: each tick of ``afterclose serve`` runs once across replicas."""

from __future__ import annotations

import datetime as dt
import os
import socket

from connector.model import require_aware
from jobs.state.base import StoreBase
from jobs.state.engine import require_scope
from jobs.state.tables import slots


class SlotsMixin(StoreBase):
    def claim_slot(self, scope: str, job: str, fire_time: dt.datetime) -> bool:
        """Claim one scheduled tick; False when another replica already claimed it.

        The run lock stops two replicas from running *at the same time*; a claimed slot stops
        the second one from running the same tick again right after the first has finished.
        """
        require_aware("fire_time", fire_time)
        row = {"scope": require_scope(scope), "job": job, "fire_time": fire_time,
               "host": socket.gethostname(), "pid": os.getpid(), "claimed_at": self._clock()}
        statement = (self._backend.insert(slots)
                     .on_conflict_do_nothing(index_elements=["scope", "job", "fire_time"])
                     .returning(slots.c.job))  # rowcount is -1 for this statement on psycopg
        with self._engine.begin() as conn:
            return conn.execute(statement, row).first() is not None
