"""Request and response models of the scaling operations (what the model sends and reads)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_REPLICAS_INPUT = 1000  # sanity bound on input; the policy ceiling is usually far lower
_DIGITS = re.compile(r"[0-9]{1,9}", re.ASCII)
# C0/C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates, zero-width, BOM
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


class ScaleRequest(BaseModel):
    """Body of scaleDeployment."""

    model_config = ConfigDict(extra="forbid")

    replicas: int = Field(
        ge=0,
        le=MAX_REPLICAS_INPUT,
        description="Desired spec.replicas (whole number). The policy limits the floor, ceiling and step "
        "size; call getDeployment first to see the range allowed now.",
    )
    reason: str = Field(
        min_length=3,
        max_length=500,
        description="Why this scale is needed, citing evidence (metric, alarm, pod state). Recorded in the "
        "audit trail. 3-500 characters.",
    )
    dry_run: bool = Field(
        default=False,
        description="true = check the policy and report what would happen, change nothing. Default false.",
    )

    @field_validator("replicas", mode="before")
    @classmethod
    def _plain_whole_number(cls, value: Any) -> Any:
        # pydantic's lax int reads "6_0" as 60, "-0" as 0, "4.0" as 4 and True as 1. A replica count
        # is decimal digits (Bedrock sends strings) or a real int; anything else is refused.
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
            return int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError("replicas must be a whole number written with digits only, e.g. 4")

    @field_validator("reason")
    @classmethod
    def _clean_reason(cls, value: str) -> str:
        cleaned = " ".join(_CONTROL.sub(" ", value).split())
        if len(cleaned) < 3:
            raise ValueError("reason must say why (at least 3 visible characters)")
        return cleaned


class ReplicaCounts(BaseModel):
    spec: int = Field(description="spec.replicas: what is asked for")
    current: int = Field(0, description="status.replicas: pods that exist")
    ready: int = 0
    available: int = 0
    updated: int = Field(0, description="pods running the newest pod template")
    unavailable: int = 0


class Rollout(BaseModel):
    status: str = Field(description="complete | progressing | stalled | paused")
    message: str
    revision: str | None = Field(None, description="deployment.kubernetes.io/revision")
    generation: int | None = None
    observed_generation: int | None = None


class Condition(BaseModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_update: str | None = None


class EventItem(BaseModel):
    type: str | None = None
    reason: str | None = None
    message: str | None = None
    count: int | None = None
    last_seen: str | None = None
    object: str | None = Field(None, description="kind/name the event is about")


class HpaInfo(BaseModel):
    name: str
    min_replicas: int | None = None
    max_replicas: int | None = None
    current_replicas: int | None = None
    desired_replicas: int | None = None


class QuotaInfo(BaseModel):
    cooldown_used: int | None = None
    cooldown_limit: int
    cooldown_window_seconds: int
    cooldown_next_slot_at: str | None = None
    incident_budget_used: int | None = None
    incident_budget_limit: int
    note: str | None = None


class ScalingVerdict(BaseModel):
    """Whether scaleDeployment would be allowed now (and why not)."""

    allowed: bool
    rule: str | None = Field(None, description="The refusing rule's stable id, when refused")
    limit: Any = None
    reason: str
    allowed_range: list[int] | None = Field(
        None, description="[lowest, highest] replicas one call may set now (floor, ceiling, step)"
    )
    quota: QuotaInfo | None = None


class DeploymentInfo(BaseModel):
    """getDeployment result."""

    namespace: str
    name: str
    replicas: ReplicaCounts
    rollout: Rollout
    conditions: list[Condition]
    events: list[EventItem] = Field(description="Newest first")
    events_omitted: int = Field(0, description="Older events not shown")
    hpa: HpaInfo | None = Field(None, description="The HorizontalPodAutoscaler managing it, if any")
    hpa_note: str | None = None
    containers: list[dict[str, str]] = Field(default_factory=list, description="name and image (first 5)")
    scaling: ScalingVerdict


class UndoHint(BaseModel):
    operation: str = "scaleDeployment"
    namespace: str
    deployment: str
    replicas: int
    call: str = Field(description="The exact call that reverts this change")


class ScaleResult(BaseModel):
    """scaleDeployment result."""

    outcome: str = Field(description="applied | dry_run | unchanged")
    namespace: str
    deployment: str
    before_replicas: int = Field(description="spec.replicas before the call")
    requested_replicas: int
    after_replicas: int = Field(description="spec.replicas the cluster reports after the call")
    cluster_now: ReplicaCounts | None = Field(None, description="Read back from the cluster after the change")
    rollout_status: str | None = None
    message: str
    audit_id: str | None = None
    undo: UndoHint | None = None
    quota: QuotaInfo | None = None
    replayed: bool = Field(
        False, description="true: an identical earlier request already did this; nothing was changed again"
    )
    warnings: list[str] = Field(default_factory=list)
