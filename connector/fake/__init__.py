"""An in-memory CRM behind the narrow port (connector/port.py), for the tests where HTTP is not the
point: the sync and NPS jobs' logic, the deal stream, the CLI around them. It runs the same
adapter contract suite as both sandboxes (tests/contract/test_adapter_contract*.py).

What it models, as both CRMs do:

- every change stamps the deal's modified time from an injectable clock, so AfterClose's own
  write-backs come back in the scan; the scan walks (modified, id) keyset pages over the live
  records: won deals, and deals AfterClose handled before (handoff status set) no longer won;
- tasks keyed by AfterClose's key are made once: a repeated create returns the existing task
  (``Outcome.UNCHANGED``); tasks link to deal, company and contact; a reschedule never touches
  the status (a task a rep completed stays completed); a deleted task is gone;
- a record the CRM refuses (an inactive or unknown owner, a link to a missing record, a value
  that does not fit its field, a field the schema lacks) is ``REJECTED`` with a message and a code
  while the rest of the batch goes on;
- a schema that ``check_schema`` compares with the mapping and ``setup`` completes, and from
  which a test can remove a field; call counts per endpoint; faults a test can ask for (the
  next apply fails, a batch fails after N creates, the answer is lost after the writes).

What it deliberately does not model: HTTP, SDKs, authentication, permissions, rate limits and
quotas, search-index lag, paging quirks (result caps, repeated cursors), vendor error shapes,
retries, and value normalisation (a value reads back exactly as written). Those belong to the
sandboxes (connector/sandbox/) and the tests that are about them run there. It knows no vendor
field names: it works with canonical names and the ``FieldMap``, whose ``provider`` only sets the
task key prefix.
"""

from connector.fake.crm import FakeCrm
from connector.fake.store import LOST, OPEN, WON, FakeStore, Faults
from connector.fake.writes import WRITE_BATCH

__all__ = ["LOST", "OPEN", "WON", "WRITE_BATCH", "FakeCrm", "FakeStore", "Faults"]
