"""The digest of what the plan is made from: the same wherever it is computed, different when an
admin changes a template or a playbook (jobs/core/plan_inputs.py)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

from connector.mapping import TaskTemplate, builtin_mapping, load_mapping
from jobs.core.plan_inputs import plan_inputs_digest
from jobs.core.playbook import DEFAULT_PLAYBOOK

SCRIPT = ("from connector.mapping import builtin_mapping, load_mapping; "
          "from jobs.core.playbook import DEFAULT_PLAYBOOK; "
          "from jobs.core.plan_inputs import plan_inputs_digest; "
          "print(plan_inputs_digest(load_mapping(builtin_mapping('hubspot')), DEFAULT_PLAYBOOK))")


def test_the_digest_is_the_same_in_every_process_whatever_its_string_hashing():
    digests = {subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip() for seed in ("1", "2", "3")}
    here = plan_inputs_digest(load_mapping(builtin_mapping("hubspot")), DEFAULT_PLAYBOOK)
    assert digests == {here}


def test_a_changed_template_touch_point_or_calendar_changes_the_digest():
    fieldmap = load_mapping(builtin_mapping("hubspot"))
    base = plan_inputs_digest(fieldmap, DEFAULT_PLAYBOOK)
    kickoff = fieldmap.templates["kickoff"]
    reworded = dataclasses.replace(fieldmap, templates={
        **fieldmap.templates, "kickoff": TaskTemplate(subject=kickoff.subject, body=kickoff.body + " Bring the SOW.")})
    fewer = dataclasses.replace(DEFAULT_PLAYBOOK, touch_points=DEFAULT_PLAYBOOK.touch_points[1:])
    later = dataclasses.replace(DEFAULT_PLAYBOOK, due_hour=10)
    changed = {plan_inputs_digest(reworded, DEFAULT_PLAYBOOK), plan_inputs_digest(fieldmap, fewer),
               plan_inputs_digest(fieldmap, later)}
    assert base not in changed and len(changed) == 3
    assert plan_inputs_digest(load_mapping(builtin_mapping("hubspot")), DEFAULT_PLAYBOOK) == base
