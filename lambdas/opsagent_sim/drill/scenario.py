"""Drill scenarios: ``drill/scenarios/<name>.yaml`` validated into :class:`DrillScenario`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
FLAP_AFTER_MINUTES = 6  # the alarm fires again this long after the first delivery (within the flap window)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricSeed(_Strict):
    """Datapoints put into CloudWatch, one per ``period`` seconds, the last one at ~now."""

    namespace: str
    name: str
    dimensions: dict[str, str] = Field(default_factory=dict)
    unit: str = "None"
    period: int = Field(default=60, ge=1)
    values: list[float] = Field(min_length=1, max_length=1440)


class MetricOverride(_Strict):
    namespace: str
    name: str
    dimensions: dict[str, str] = Field(default_factory=dict)
    period: int = 300
    stat: str = "Average"


class AlarmSpec(_Strict):
    """The alarm event, from a real-format sample with overrides."""

    fixture: Literal["alarm-single-metric", "alarm-metric-math", "alarm-composite"]
    name: str | None = None
    description: str | None = None
    metric: MetricOverride | None = Field(default=None, description="single-metric alarms: the metric")
    dimensions: dict[str, str] | None = Field(default=None, description="metric math: every metricStat's")
    threshold: float | None = None
    recent: list[float] | None = Field(default=None, description="reasonData.recentDatapoints")
    triggering: list[str] | None = Field(default=None, description="composite: the child alarms that fired")
    children: list[AlarmSpec] = Field(
        default_factory=list, description="composite: child alarms defined in CloudWatch and set to ALARM"
    )


class Expectation(_Strict):
    """What a correct investigation reaches. Every listed item must hold."""

    runbook: str | None = None
    category: str | None = None
    min_confidence: Literal["low", "medium", "high"] = "low"
    cause_keywords: list[str] = Field(default_factory=list, description="in the probable cause (any case)")
    signals: list[str] = Field(default_factory=list, description="finding signals, e.g. OOMKilled")
    proposals: list[str] = Field(default_factory=list, description="operations proposed (never executed)")
    redacted: list[str] = Field(default_factory=list, description="secrets that must not reach the ticket")


class DrillScenario(_Strict):
    name: str
    title: str
    k8s_scenario: str
    cluster: str = "prod-eks"
    namespace: str = "shop"
    trigger: dict[str, Any] = Field(default_factory=dict, description="OPSAGENT_TRIGGER overrides")
    policy: dict[str, Any] | None = Field(
        default=None, description="OPSAGENT_POLICY (default: allow namespace)"
    )
    alarm: AlarmSpec
    metrics: list[MetricSeed] = Field(default_factory=list)
    expect: Expectation = Field(default_factory=Expectation)


def list_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name: str | Path) -> DrillScenario:
    path = Path(name)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name}.yaml"
    if not path.exists():
        raise SystemExit(f"no drill scenario {name!r}; available: {', '.join(list_scenarios())}")
    data = yaml.safe_load(path.read_text()) or {}
    data.setdefault("name", path.stem)
    return DrillScenario.model_validate(data)
