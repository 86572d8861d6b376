"""The one place that names the CRMs: from validated settings to a provider's adapter, where its
API lives, how to point a config at its sandbox. Everything else in jobs/ is provider-neutral."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from connector.mapping import FieldMap
from connector.model import Provider
from connector.port import CrmAdapter
from connector.sandbox import SandboxEndpoint
from jobs.config import Settings


@dataclass(frozen=True, kw_only=True)
class Wiring:
    provider: Provider
    build_adapter: Callable[[Settings, FieldMap], CrmAdapter]
    endpoint: Callable[[Settings], tuple[str, str]]
    """(the CRM's URL, the config key that sets it), for messages that say what to fix."""
    credential_keys: str
    """The config keys that hold the credentials, as a user would look for them."""
    new_sandbox: Callable[[str], Any]
    """A loopback sandbox of this CRM accepting the given token (``afterclose demo``/``sandbox``)."""
    sandbox_settings: Callable[[SandboxEndpoint], dict[str, Any]]
    """This provider's config section pointing at a running sandbox."""
    demo_owner_ids: str
    """Where the sandbox files the CRM ids of the demo owners (``sandbox.demo_ids``)."""
    instance: Callable[[Settings], str]
    """The URL or name the config points at (the address's second part)."""
    instance_kind: str
    """What the CRM calls one account: the scope is ``<provider>:<kind>-<the CRM's own id>``."""
    record_id: Callable[[str], str] = str.strip
    """A record id as a user typed it, in the form the adapter answers with (the adapter's
    ``SupportsRecordIds``, for commands that read only the state store: ``status --deal``)."""


def _hubspot_adapter(settings: Settings, fieldmap: FieldMap) -> CrmAdapter:
    from connector.hubspot.adapter import HubSpotAdapter

    return HubSpotAdapter(settings=settings.hubspot, fieldmap=fieldmap, retry=settings.retry)


def _salesforce_adapter(settings: Settings, fieldmap: FieldMap) -> CrmAdapter:
    from connector.salesforce.adapter import SalesforceAdapter

    return SalesforceAdapter(settings=settings.salesforce, fieldmap=fieldmap, retry=settings.retry)


def _salesforce_endpoint(settings: Settings) -> tuple[str, str]:
    if settings.salesforce.instance_url:
        return settings.salesforce.instance_url, "salesforce.instance_url"
    return f"{settings.salesforce.domain} login", "salesforce.domain"


def _salesforce_record_id(typed: str) -> str:
    from connector.salesforce.ids import record_id

    return record_id(typed)


def _hubspot_sandbox(token: str) -> Any:
    from connector.sandbox.hubspot import HubSpotSandbox

    return HubSpotSandbox(token=token)


def _salesforce_sandbox(token: str) -> Any:
    from connector.sandbox.salesforce import SalesforceSandbox

    return SalesforceSandbox(token=token)


WIRINGS = {
    Provider.HUBSPOT: Wiring(
        provider=Provider.HUBSPOT, build_adapter=_hubspot_adapter,
        endpoint=lambda settings: (settings.hubspot.base_url, "hubspot.base_url"),
        credential_keys="hubspot.access_token (or hubspot.client_id + client_secret + refresh_token)",
        new_sandbox=_hubspot_sandbox,
        # The sandbox answers only once a request is carried out and its reads do not lag: no
        # settle delay needed (a real portal keeps the 60 s default).
        sandbox_settings=lambda endpoint: {"base_url": endpoint.base_url, "access_token": endpoint.token,
                                           "settle_seconds": 0},
        demo_owner_ids="owners", instance=lambda settings: settings.hubspot.base_url, instance_kind="portal",
    ),
    Provider.SALESFORCE: Wiring(
        provider=Provider.SALESFORCE, build_adapter=_salesforce_adapter, endpoint=_salesforce_endpoint,
        credential_keys="the [salesforce] login keys (access_token, or username + password + ...)",
        new_sandbox=_salesforce_sandbox,
        sandbox_settings=lambda endpoint: {"instance_url": endpoint.base_url, "access_token": endpoint.token,
                                           "ca_bundle": str(endpoint.ca_path)},
        demo_owner_ids="User",
        instance=lambda settings: settings.salesforce.instance_url or settings.salesforce.domain,
        instance_kind="org", record_id=_salesforce_record_id,
    ),
}


def wiring(provider: Provider | str) -> Wiring:
    return WIRINGS[Provider(provider)]


def build_adapter(settings: Settings, fieldmap: FieldMap) -> CrmAdapter:
    return wiring(settings.crm.provider).build_adapter(settings, fieldmap)


def address_of(settings: Settings) -> str:
    """Where the config points (``hubspot:api.hubapi.com``, ``salesforce:login``): the scope of
    state databases made before scopes named the account, and what a config's scope is
    remembered by (jobs/scopes.py). Not an account: every HubSpot portal has the same address."""
    url = wiring(settings.crm.provider).instance(settings)
    host = urlsplit(url).netloc or url
    return f"{settings.crm.provider.value}:{host}"


def instance_scope(provider: Provider | str, instance_id: str) -> str:
    """The scope of one CRM account (``hubspot:portal-123``, ``salesforce:org-00D...``): cursor,
    ledger, runs and run lock are kept per scope, so one state database serves several portals
    or orgs without mixing them up."""
    wired = wiring(provider)
    return f"{wired.provider.value}:{wired.instance_kind}-{instance_id}"
