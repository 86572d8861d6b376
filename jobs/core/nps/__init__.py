"""NPS and referrals, decided. Pure: no I/O, ``now`` is passed in.

1. ``match`` ties each survey response to a customer: by ``account_id`` when the survey tool
   knows it, else by the respondent's email (case and surrounding spaces ignored) -> contact ->
   the contact's company -> its won deals. A response that cannot be tied says why.
2. ``summarise`` turns an account's responses into what is written back: the ``latest``
   response (default), or the ``average`` of the responses within ``window_days`` of the
   latest one (rounded to one decimal; its category follows the rounded average).
3. ``plan_nps`` writes score, category and date (and the comment) onto each won deal and the
   company, only where the CRM's value differs after normalisation ("9" equals "9.0"); moves
   the referral status along its lifecycle; and creates the follow-up tasks:

   - a *detractor* (0-6) latest response: a high-priority call for the account owner, due one
     business day later (in the playbook's calendar);
   - a *promoter* (9-10) latest response that makes the account ``eligible``: an "ask for a
     referral" task, unless an ask task of the account is still open.

   Task keys are ``jobs.core.keys.task_key(provider, "account.<id>", "<touch point>_<digest>", 0)``
   where the digest is of the response id: the same response never makes a second task (the
   ledger, or the key stored on the CRM task, already has it), a new response may. keys.py's
   ``cycle`` is a 0-9999 number, so the response identity travels in the touch-point segment
   instead. Responses older than ``task_max_age_days`` make no task (a first run over a year of
   exports must not flood reps with stale follow-ups): the skip is recorded, with its reason.

Referral lifecycle (``TRANSITIONS``, first applicable event wins, in this order):

    event \\ status      not_eligible  eligible      asked         referred  declined
    referral won        referred      referred      referred      -         -
    detractor           -             not_eligible  not_eligible  -         -
    ask completed       -             asked         -             -         -
    promoter            eligible      -             -             -         -
    passive             -             not_eligible  -             -         -

``-`` keeps the status. ``declined`` is the owner's decision and ``referred`` is a fact: nothing
AfterClose sees overwrites them. "ask completed" means the account's most recent referral-ask
task is completed in the CRM; "referral won" means a won deal's ``referrer_field`` names this
account, one of its contacts (id or email).

Canonical fields written when the mapping declares them writable: deals ``nps_score``,
``nps_category``, ``nps_date``, ``nps_comment``, ``referral_status``, ``referral_status_date``;
companies the same names prefixed ``company_``.
"""

from jobs.core.nps.match import (
    ACCOUNT_REF_PREFIX,
    DETRACTOR_TOUCH_POINT,
    REFERRAL_ASK_TOUCH_POINT,
    Category,
    KnownAccount,
    MatchedResponse,
    MatchResult,
    NpsSnapshot,
    UnmatchedResponse,
    category,
    match,
    normalise_email,
)
from jobs.core.nps.plan import account_ref, nps_task_key, plan_nps
from jobs.core.nps.referral import (
    EVENT_ORDER,
    TRANSITIONS,
    NpsPolicy,
    NpsSummary,
    ReferralEvent,
    ReferralEvidence,
    ReferralStatus,
    ReferralTransition,
    latest_of,
    next_referral_status,
    parse_status,
    summarise,
)
from jobs.core.nps.tasks import DEFAULT_TEMPLATES, TEMPLATE_IDS

__all__ = [
    "ACCOUNT_REF_PREFIX",
    "DEFAULT_TEMPLATES",
    "DETRACTOR_TOUCH_POINT",
    "EVENT_ORDER",
    "REFERRAL_ASK_TOUCH_POINT",
    "TEMPLATE_IDS",
    "TRANSITIONS",
    "Category",
    "KnownAccount",
    "MatchResult",
    "MatchedResponse",
    "NpsPolicy",
    "NpsSnapshot",
    "NpsSummary",
    "ReferralEvent",
    "ReferralEvidence",
    "ReferralStatus",
    "ReferralTransition",
    "UnmatchedResponse",
    "account_ref",
    "category",
    "latest_of",
    "match",
    "next_referral_status",
    "normalise_email",
    "nps_task_key",
    "parse_status",
    "plan_nps",
    "summarise",
]
