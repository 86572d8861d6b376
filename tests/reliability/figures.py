"""The figures docs/reliability.md quotes, collected while the suite runs.

Set ``AFTERCLOSE_RELIABILITY_FIGURES=path`` and every test that measures something appends one
JSON line to that file; without it nothing is written. Lines are small and appended whole, so two
xdist workers can share the file.
"""

from __future__ import annotations

import json
import os


def record(test: str, **figures: object) -> None:
    path = os.environ.get("AFTERCLOSE_RELIABILITY_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"test": test, **figures}, default=str) + "\n")
