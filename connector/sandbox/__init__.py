"""Loopback CRM servers that speak HubSpot CRM v3/v4 and Salesforce REST closely enough for the
unmodified SDK clients. Used by the tests, ``afterclose demo`` and the benchmark.

Each sandbox class has ``serve(host, port)``, a context manager yielding a ``SandboxEndpoint``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class SandboxEndpoint:
    """Where a running sandbox listens and how to authenticate to it."""

    provider: str
    base_url: str
    """HubSpot: the SDK ``host``; Salesforce: the ``instance_url`` (https)."""
    token: str
    ca_path: Path | None = None
    """The test CA that signed the server certificate (Salesforce sandbox only)."""
