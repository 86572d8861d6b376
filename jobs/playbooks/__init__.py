"""The playbook the config asks for: the [playbook] section as the pure core's ``Playbook``."""

from __future__ import annotations

from connector.errors import ConfigError
from jobs.config import Settings
from jobs.core.playbook import DEFAULT_PLAYBOOK, Playbook, TouchPointRule


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
