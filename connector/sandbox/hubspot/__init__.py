"""A loopback HubSpot CRM v3/v4 server the unmodified ``hubspot-api-client`` talks to.

See ``HubSpotSandbox`` and docs/hubspot-api-notes.md (every behaviour with its source).
"""

from connector.sandbox.hubspot.sandbox import HubSpotSandbox, run_forever

__all__ = ["HubSpotSandbox", "run_forever"]
