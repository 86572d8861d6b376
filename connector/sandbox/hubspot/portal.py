"""Owners and deal pipelines of the sandbox portal.

Pipelines: id ``default`` always exists [DOC: https://developers.hubspot.com/docs/methods/pipelines/pipelines_overview?hsLang=en];
default stage ids appointmentscheduled..closedwon/closedlost [2ND]; a custom pipeline has numeric ids;
stage metadata are strings ``{"isClosed": "true", "probability": "1.0"}`` (facts §3, SDK type dict[str,str]).
Owners: ``GET /crm/v3/owners/``; a deactivated owner is listed only with ``archived=true``, has
``userId`` null and ``userIdIncludingInactive`` set
[2ND: https://github.com/HubSpot/hubspot-api-python/issues/314; https://github.com/airbytehq/airbyte/issues/55818],
and HubSpot clears a deactivated user's name [2ND: https://github.com/getprobo/probo/pull/1594].
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.sandbox.hubspot import timefmt

WRITE_PERMISSIONS = "CRM_PERMISSIONS_ENFORCEMENT"
"""One of CRM_PERMISSIONS_ENFORCEMENT | READ_ONLY | INTERNAL_ONLY [SPEC ``PipelineStage.writePermissions`` in
HubSpot/HubSpot-public-api-spec-collection, PublicApiSpecs/CRM/Pipelines/Rollouts/145896/v3/pipelines.json]:
an ordinary stage, writable by users with CRM permissions."""


@dataclass(frozen=True, kw_only=True)
class Stage:
    id: str
    label: str
    probability: float
    closed: bool

    @property
    def won(self) -> bool:
        return self.closed and self.probability == 1.0

    def to_json(self, order: int, stamp: str) -> dict:
        metadata = {"isClosed": "true" if self.closed else "false", "probability": f"{self.probability:.1f}"}
        return {"id": self.id, "label": self.label, "displayOrder": order, "metadata": metadata,
                "createdAt": stamp, "updatedAt": stamp, "archived": False, "writePermissions": WRITE_PERMISSIONS}


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    id: str
    label: str
    stages: tuple[Stage, ...]

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    @property
    def first_open_stage(self) -> Stage:
        return next(s for s in self.stages if not s.closed)

    @property
    def won_stage(self) -> Stage:
        return next(s for s in self.stages if s.won)

    @property
    def lost_stage(self) -> Stage:
        return next(s for s in self.stages if s.closed and not s.won)

    def to_json(self, order: int, created_ms: int) -> dict:
        stamp = timefmt.iso_from_ms(created_ms)
        return {"id": self.id, "label": self.label, "displayOrder": order, "archived": False,
                "createdAt": stamp, "updatedAt": stamp,
                "stages": [s.to_json(n, stamp) for n, s in enumerate(self.stages)]}


DEFAULT_PIPELINE = Pipeline(id="default", label="Sales Pipeline", stages=(
    Stage(id="appointmentscheduled", label="Appointment Scheduled", probability=0.2, closed=False),
    Stage(id="qualifiedtobuy", label="Qualified To Buy", probability=0.4, closed=False),
    Stage(id="presentationscheduled", label="Presentation Scheduled", probability=0.6, closed=False),
    Stage(id="decisionmakerboughtin", label="Decision Maker Bought-In", probability=0.8, closed=False),
    Stage(id="contractsent", label="Contract Sent", probability=0.9, closed=False),
    Stage(id="closedwon", label="Closed Won", probability=1.0, closed=True),
    Stage(id="closedlost", label="Closed Lost", probability=0.0, closed=True),
))
PARTNER_PIPELINE = Pipeline(id="75310246", label="Partner Channel", stages=(
    Stage(id="75310247", label="Partner Registered", probability=0.3, closed=False),
    Stage(id="75310248", label="Joint Proposal", probability=0.7, closed=False),
    Stage(id="75310249", label="Signed via Partner", probability=1.0, closed=True),
    Stage(id="75310250", label="Partner Lost", probability=0.0, closed=True),
))
DEAL_PIPELINES = (DEFAULT_PIPELINE, PARTNER_PIPELINE)


@dataclass(frozen=True, kw_only=True)
class Owner:
    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    active: bool
    created_ms: int

    def to_json(self) -> dict:
        stamp = timefmt.iso_from_ms(self.created_ms)
        return {
            "id": self.id, "email": self.email, "type": "PERSON",
            "firstName": self.first_name if self.active else "",
            "lastName": self.last_name if self.active else "",
            "userId": self.user_id if self.active else None,
            "userIdIncludingInactive": self.user_id,
            "createdAt": stamp, "updatedAt": stamp, "archived": not self.active, "teams": [],
        }
