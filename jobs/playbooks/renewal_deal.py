"""A playbook's ``create_renewal_deal`` setting, checked against the mapping and the playbook set.

What can be checked before any CRM call is checked here, each problem naming the file, the key
and what to do: the mapping must hold the field that stores the renewal deal's key, the deal type
and amount fields named must be mapped, a pipeline is needed exactly where the mapping has
pipelines, and the deal created must be one the playbook set takes for a renewal deal once it is
won (else it would get the new-business playbook, a kickoff call and a second renewal ladder).
Whether the pipeline and stage exist in the CRM is ``afterclose check``'s (the adapter's
``SupportsDealCreation.deal_target_problems``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from connector.errors import ConfigError
from connector.mapping import FieldMap, builtin_mapping
from connector.model import RENEWAL_DEAL_KEY, Deal, RecordKind
from connector.port import SupportsDealCreation
from jobs.config_playbook import PlaybookEntrySection
from jobs.core.playbook_set import PlaybookSet
from jobs.core.renewal_deals import BUILT_IN_AMOUNT, RenewalDealRule

_PIPELINE = "pipeline"
_DEAL_TYPE = "deal_type"


def renewal_deal_rule(entry: PlaybookEntrySection, fieldmap: FieldMap, source: str,
                      where: str) -> RenewalDealRule | None:
    section = entry.create_renewal_deal
    if section is None:
        return None
    key = f"{where}.create_renewal_deal"
    deal_fields = {spec.canonical for spec in fieldmap.for_record(RecordKind.DEAL)}

    def refuse(problem: str, sub: str = "") -> ConfigError:
        return ConfigError(f"playbook {entry.id!r}: {problem}", source=source, key=f"{key}{sub}")

    if RENEWAL_DEAL_KEY not in deal_fields:
        where = (f"a copy of the built-in mapping {fieldmap.source} (it has the entry commented out: copy the file, "
                 "uncomment it there and set [crm] mapping to the copy; the installed file is replaced on upgrade)"
                 if _is_builtin(fieldmap) else fieldmap.source)
        raise refuse(f"creating renewal deals needs a deal field for their key: add [fields.{RENEWAL_DEAL_KEY}] "
                     f"(record = \"deal\", type = \"text\") to {where}, then run `afterclose setup`, which "
                     "creates the field where the CRM lets it")
    if _PIPELINE in deal_fields and section.pipeline is None:
        raise refuse(f"name the pipeline the stage {section.stage!r} belongs to (its internal id)", ".pipeline")
    if _PIPELINE not in deal_fields and section.pipeline is not None:
        raise refuse(f"{fieldmap.source} maps no pipeline field (this CRM's deals have no pipeline): remove "
                     "`pipeline`", ".pipeline")
    if section.amount_field != BUILT_IN_AMOUNT and section.amount_field not in deal_fields:
        raise refuse(f"amount_field {section.amount_field!r} is not a deal field in {fieldmap.source}: use "
                     f"\"{BUILT_IN_AMOUNT}\" or one of {', '.join(sorted(deal_fields))}", ".amount_field")
    if section.deal_type is not None and _DEAL_TYPE not in deal_fields:
        raise refuse(f"deal_type is set but {fieldmap.source} maps no deal_type field: map [fields.{_DEAL_TYPE}] "
                     "or remove `deal_type`", ".deal_type")
    try:
        return RenewalDealRule(days_before=section.days_before, stage=section.stage.strip(),
                               pipeline=section.pipeline.strip() if section.pipeline else None,
                               owner=section.owner.strip(), amount_field=section.amount_field,
                               deal_type=section.deal_type)
    except ValueError as exc:
        raise refuse(str(exc)) from exc


def check_renewal_deals(playbooks: PlaybookSet, entries: Sequence[PlaybookEntrySection], fieldmap: FieldMap,
                        source: str, prefix: str) -> None:
    """Every renewal deal a playbook creates must be chosen by a renewal-deal playbook once won."""
    for index, entry in enumerate(entries):
        section = entry.create_renewal_deal
        if section is None:
            continue
        facts = {name: value for name, value in ((_DEAL_TYPE, section.deal_type), (_PIPELINE, section.pipeline))
                 if value is not None}
        created = Deal(provider=fieldmap.provider, id="renewal-deal", name="renewal deal", stage=section.stage,
                       is_won=True, close_date=None, last_modified=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                       fields=facts)
        chosen = playbooks.choose(created)
        if chosen.playbook.renewal_deal:
            continue
        shown = ", ".join(f"{k} {v!r}" for k, v in facts.items()) or "no deal type"
        raise ConfigError(
            f"playbook {entry.id!r}: the renewal deal it creates ({shown}) would get playbook "
            f"{chosen.playbook.id!r} once won, which is not for renewal deals (renewal_deal = true), so the "
            "customer would get a second kickoff and renewal ladder: set deal_type (or pipeline) to what your "
            "renewal playbook's `when` tests",
            source=source, key=f"{prefix}playbooks[{index}].create_renewal_deal")


def renewal_deal_target_problems(adapter: object, playbooks: PlaybookSet, source: str) -> list[str]:
    """``afterclose check``: each playbook's renewal deal pipeline and stage against the live CRM,
    one line per problem naming the file and the playbook."""
    wanted = {p.id: (p.create_renewal_deal.pipeline, p.create_renewal_deal.stage)
              for p in playbooks.playbooks if p.create_renewal_deal is not None}
    if not wanted:
        return []
    if not isinstance(adapter, SupportsDealCreation):
        return [f"{source}: playbook {pid!r}: create_renewal_deal: this CRM adapter cannot create deals"
                for pid in wanted]
    problems = []
    for pid, target in wanted.items():
        problems += [f"{source}: playbook {pid!r}: create_renewal_deal: {line}"
                     for line in adapter.deal_target_problems([target])]
    return problems


def _is_builtin(fieldmap: FieldMap) -> bool:
    """Whether the mapping is the one installed with AfterClose (an admin edits a copy)."""
    try:
        return Path(fieldmap.source).resolve() == Path(builtin_mapping(fieldmap.provider)).resolve()
    except (OSError, ValueError):
        return False
