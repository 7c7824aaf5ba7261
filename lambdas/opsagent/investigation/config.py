"""Trigger configuration: ``OPSAGENT_TRIGGER`` (JSON) plus the agent ids.

Example (what infra sets; every field optional)::

    OPSAGENT_TRIGGER='{"mutation_mode": "propose", "flap_window_minutes": 30,
                       "default_namespace": "shop",
                       "workloads": [{"match": {"TargetGroup": "targetgroup/web-*"}, "namespace": "shop",
                                      "workload": "frontend"}]}'
    OPSAGENT_AGENT_ID=ABCDEFGHIJ  OPSAGENT_AGENT_ALIAS_ID=KLMNOPQRST

``OPSAGENT_AGENT_ID`` / ``OPSAGENT_AGENT_ALIAS_ID`` win over ``agent_id`` / ``agent_alias_id`` in the
JSON. Without an agent id the trigger investigates without a model (runbook fallback).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from opsagent.investigation.workload import WorkloadMapping, WorkloadRule
from opsagent.settings import load_settings

_AGENT_ID = r"^[0-9A-Za-z]{1,10}$"


class TriggerConfig(BaseModel):
    """The ``OPSAGENT_TRIGGER`` document."""

    model_config = ConfigDict(extra="forbid")

    mutation_mode: Literal["propose", "confirm"] = Field(
        default="propose",
        description="propose: answer every confirmation request with DENY and put the proposal in the "
        "ticket; confirm: CONFIRM operations listed in confirm_operations (the operation still enforces "
        "the scaling policy)",
    )
    confirm_operations: list[str] = Field(default_factory=lambda: ["scaleDeployment"], max_length=10)
    flap_window_minutes: int = Field(
        default=30,
        ge=0,
        le=7 * 24 * 60,
        description="A new ALARM within this many minutes of the last "
        "one joins the open incident (ticket comment) instead of starting an investigation; 0 disables",
    )
    dedup_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    lease_seconds: int = Field(
        default=900,
        ge=30,
        le=3600,
        description="Outside Lambda (CLI, drill): a claimed delivery whose investigation has not "
        "finished after this long may be taken over by a redelivery. In Lambda the lease is the "
        "invocation's remaining time + 30 s, and Lambda's own retry takes its claim over at once",
    )
    agent_id: str | None = Field(default=None, pattern=_AGENT_ID)
    agent_alias_id: str | None = Field(default=None, pattern=_AGENT_ID)
    max_confirmations: int = Field(default=3, ge=0, le=10)
    reserve_seconds: int = Field(
        default=60,
        ge=10,
        le=240,
        description="Seconds of the Lambda invocation kept for the no-model fallback and the ticket: the "
        "agent session is cut off (fallback reason timeout) when only this much time is left",
    )
    enrich: bool = True
    metric_window_minutes: int = Field(default=60, ge=5, le=24 * 60)
    max_steps: int = Field(default=8, ge=1, le=20, description="Runbook steps run by the fallback")
    step_evidence_chars: int = Field(default=1200, ge=200, le=4000, description="Per step, in the ticket")
    tool_functions: dict[str, str] = Field(
        default_factory=dict,
        description="Action group -> Lambda function name/ARN: run the tools through lambda:InvokeFunction "
        "(least privilege for the trigger) instead of in-process; unlisted groups run in-process",
    )
    default_namespace: str | None = None
    default_cluster: str | None = None
    workloads: list[WorkloadRule] = Field(default_factory=list, max_length=200)


class _Env(BaseModel):
    trigger: TriggerConfig = Field(default_factory=TriggerConfig)
    agent_id: str | None = Field(default=None, pattern=_AGENT_ID)
    agent_alias_id: str | None = Field(default=None, pattern=_AGENT_ID)
    cluster_name: str | None = None
    state_table: str | None = None
    tickets_table: str | None = None
    audit_table: str | None = None


class TriggerSettings(BaseModel):
    config: TriggerConfig
    agent_id: str | None
    agent_alias_id: str | None
    state_table: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TriggerSettings:
        env = load_settings(_Env, environ)
        cfg = env.trigger
        if cfg.default_cluster is None and env.cluster_name:
            cfg = cfg.model_copy(update={"default_cluster": env.cluster_name})
        return cls(
            config=cfg,
            agent_id=env.agent_id or cfg.agent_id,
            agent_alias_id=env.agent_alias_id or cfg.agent_alias_id,
            state_table=env.state_table,
        )

    @property
    def workload_mapping(self) -> WorkloadMapping:
        return WorkloadMapping(
            rules=self.config.workloads,
            default_namespace=self.config.default_namespace,
            default_cluster=self.config.default_cluster,
        )

    @property
    def agent_configured(self) -> bool:
        return bool(self.agent_id and self.agent_alias_id)
