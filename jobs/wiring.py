"""From validated settings to the objects a run uses: the adapter, the playbook, the scope."""

from __future__ import annotations

from urllib.parse import urlsplit

from connector.errors import ConfigError
from connector.mapping import FieldMap
from connector.port import CrmAdapter
from jobs.config import Settings
from jobs.core.playbook import DEFAULT_PLAYBOOK, Playbook, TouchPointRule


def scope_of(settings: Settings) -> str:
    """Names the CRM instance: cursor, ledger and run lock are kept per scope, so one state
    database can serve several portals or orgs without mixing them up."""
    provider = settings.crm.provider.value
    url = settings.hubspot.base_url if provider == "hubspot" else (settings.salesforce.instance_url or
                                                                    settings.salesforce.domain)
    host = urlsplit(url).netloc or url
    return f"{provider}:{host}"


def build_adapter(settings: Settings, fieldmap: FieldMap) -> CrmAdapter:
    retry = settings.retry.as_retry_settings()
    if settings.crm.provider.value == "hubspot":
        from connector.hubspot.adapter import HubSpotAdapter
        from connector.hubspot.settings import HubSpotSettings

        return HubSpotAdapter(settings=HubSpotSettings(**settings.hubspot.reveal()), fieldmap=fieldmap, retry=retry)
    from connector.salesforce.adapter import SalesforceAdapter
    from connector.salesforce.settings import SalesforceSettings

    return SalesforceAdapter(settings=SalesforceSettings(**settings.salesforce.reveal()), fieldmap=fieldmap,
                             retry=retry)


def build_playbook(settings: Settings) -> Playbook:
    section = settings.playbook
    rules = DEFAULT_PLAYBOOK.touch_points
    if section.touch_points:
        rules = tuple(
            TouchPointRule(id=tp.id, title=tp.title, anchor=tp.anchor, offset_days=tp.offset,
                           business_days=tp.business_days, type=tp.type, priority=tp.priority)
            for tp in section.touch_points
        )
    try:
        return Playbook(
            touch_points=rules, timezone=section.timezone, workdays=frozenset(section.workdays),
            holidays=frozenset(section.holidays), due_hour=section.due_hour, catch_up_days=section.catch_up_days,
            contract_term_months=section.contract_term_months, owner_field=section.owner_field or None,
            fallback_owner=section.fallback_owner or None,
        )
    except ValueError as exc:
        raise ConfigError(str(exc), source=settings.source, key="playbook") from exc
