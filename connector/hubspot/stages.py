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


def _is_won(metadata: dict[str, str]) -> bool:
    closed = str(metadata.get("isClosed", "")).lower() == "true"
    try:
        probability = float(metadata.get("probability", "nan"))
    except (TypeError, ValueError):
        return False
    return closed and probability == 1.0
