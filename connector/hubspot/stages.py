"""Which deal stages count as won, in every pipeline, read once per run.

HubSpot has no "won" flag on a stage id: the default pipeline's won stage is ``closedwon`` but
custom pipelines use arbitrary (numeric) ids. The v3 pipelines API gives each stage string
metadata ``{"isClosed": "true", "probability": "1.0"}`` for won and ``"0.0"`` for lost (facts §3,
https://developers.hubspot.com/docs/api/crm/pipelines), so won = closed with probability 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.hubspot.client import HubSpotClient

LABEL = "GET /crm/v3/pipelines/deals"


@dataclass(frozen=True, kw_only=True, slots=True)
class DealStages:
    won: frozenset[str]
    pipelines: int
    """How many pipelines were read (for the run log: "3 won stages in 2 pipelines")."""

    def is_won(self, stage_id: str | None) -> bool:
        return stage_id in self.won


def read_deal_stages(client: HubSpotClient) -> DealStages:
    reply = client.call(LABEL, "crm.pipelines.pipelines_api", "get_all", object_type="deals")
    pipelines = [p for p in reply.results or [] if not p.archived]
    won = {
        stage.id
        for pipeline in pipelines
        for stage in pipeline.stages or []
        if not stage.archived and _is_won(stage.metadata or {})
    }
    return DealStages(won=frozenset(won), pipelines=len(pipelines))


def deal_target_problems(client: HubSpotClient, targets: list[tuple[str | None, str]]) -> list[str]:
    """(pipeline id, stage id) pairs a deal cannot be created in: no such pipeline, a stage that is
    not one of that pipeline's (a stage id belongs to one pipeline), or a closed stage."""
    reply = client.call(LABEL, "crm.pipelines.pipelines_api", "get_all", object_type="deals")
    pipelines = {p.id: p for p in reply.results or [] if not p.archived}
    problems = []
    for pipeline_id, stage_id in dict.fromkeys(targets):
        pipeline = pipelines.get(pipeline_id or "default")
        if pipeline is None:
            problems.append(f"no deal pipeline with id {pipeline_id!r} (the portal has: "
                            f"{', '.join(f'{p.id} ({p.label})' for p in pipelines.values())})")
            continue
        stages = {s.id: s for s in pipeline.stages or [] if not s.archived}
        stage = stages.get(stage_id)
        if stage is None:
            problems.append(f"pipeline {pipeline.id} ({pipeline.label}) has no stage with id {stage_id!r} (it has: "
                            f"{', '.join(f'{s.id} ({s.label})' for s in stages.values())})")
        elif str((stage.metadata or {}).get("isClosed", "")).lower() == "true":
            problems.append(f"stage {stage_id!r} of pipeline {pipeline.id} is a closed stage: a renewal deal is "
                            "created open, in a stage before the decision")
    return problems


def _is_won(metadata: dict[str, str]) -> bool:
    closed = str(metadata.get("isClosed", "")).lower() == "true"
    try:
        probability = float(metadata.get("probability", "nan"))
    except (TypeError, ValueError):
        return False
    return closed and probability == 1.0
