"""The HubSpot adapter (hubspot-api-client 12): ``HubSpotAdapter(settings=..., fieldmap=..., retry=...)``.

Modules: ``settings`` (credentials and quota share), ``client`` (the one door to the SDK: budget,
timeouts, retries, call counts), ``errors`` (SDK exceptions -> ErrorFacts), ``budget`` (rate
limits), ``stages`` (won stages), ``search`` (the 10,000-cap window walk), ``related`` (batched
association/contact/company/owner reads), ``pull`` (deals -> DealPage), ``schema`` (property
check and setup), ``batch`` (207 matching), ``writes`` (duplicate-proof tasks, write-backs).
"""

from connector.hubspot.adapter import HubSpotAdapter
from connector.hubspot.settings import HubSpotSettings

__all__ = ["HubSpotAdapter", "HubSpotSettings"]
