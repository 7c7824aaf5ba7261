"""The runbook front matter as typed models.

A runbook is ``knowledge_base/runbooks/<id>.md``: YAML front matter (this module's :class:`Runbook`)
then Markdown for humans and the model. The front matter says which alarms the runbook covers
(:class:`Matches`), its read-only diagnostic ``steps`` (calls of our operations with string templates)
and ``proposals`` (mutations a human or the confirmed agent may run, never executed automatically).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opsagent import catalogue

# Placeholders a template may use; the values come from the alarm (see ``opsagent.investigation``).
FACT_PLACEHOLDERS: frozenset[str] = frozenset(
    {"namespace", "workload", "cluster", "pod", "alarm_name", "metric_namespace", "metric_name", "dimensions"}
)
# Operations that change something (the catalogue's mutations): never allowed as a step (only as a
# proposal). The schema validation test checks the same thing against schemas/*.json; this is the
# runtime guard.
MUTATING_OPERATIONS: frozenset[str] = frozenset(t.name for t in catalogue.TOOLS if t.mutation)

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_OPERATION_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
RUNBOOK_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")

Severity = Literal["sev1", "sev2", "sev3", "sev4"]
SEVERITY_RANK: dict[str, int] = {"sev1": 1, "sev2": 2, "sev3": 3, "sev4": 4}


def placeholders(template: str) -> list[str]:
    """Names used as ``{name}`` in a template (in order, repeats kept)."""
    return _PLACEHOLDER.findall(template)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_template(value: object) -> str:
    """YAML gives ints and booleans for ``period: 60`` / ``previous: true``: keep them as the strings
    Bedrock would send (``"60"``, ``"true"``); anything else (lists, maps, null) is an error."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"must be a string (or number/boolean), got {type(value).__name__}")


class Step(_Strict):
    """One call of an operation. ``params`` maps the operation's parameter names to string templates."""

    operation: str = Field(description="operationId from CONTRACTS.md 'The API'")
    params: dict[str, str] = Field(default_factory=dict)
    why: str = Field(min_length=1, max_length=500, description="What this call shows and what to look for")

    @field_validator("operation")
    @classmethod
    def _operation(cls, value: str) -> str:
        if not _OPERATION_ID.match(value):
            raise ValueError(f"not an operationId: {value!r}")
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, value: object) -> object:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of parameter name -> template")
        out: dict[str, str] = {}
        for key, template in value.items():
            if not isinstance(key, str) or not _PARAM_NAME.match(key):
                raise ValueError(f"bad parameter name {key!r}")
            try:
                out[key] = _as_template(template)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return out

    @model_validator(mode="after")
    def _templates(self) -> Step:
        for key, template in self.params.items():
            for name in placeholders(template):
                if name not in FACT_PLACEHOLDERS:
                    raise ValueError(
                        f"params.{key}: unknown placeholder {{{name}}}; allowed: "
                        + " ".join(f"{{{n}}}" for n in sorted(FACT_PLACEHOLDERS))
                    )
            if template.count("{") != template.count("}"):
                raise ValueError(f"params.{key}: unbalanced braces in {template!r}")
        return self

    @property
    def placeholders(self) -> frozenset[str]:
        """The facts this step needs (e.g. ``{"namespace", "pod"}``)."""
        return frozenset(n for t in self.params.values() for n in placeholders(t))


class Proposal(Step):
    """A mutation for a human (or the agent, with confirmation) to consider. Never run automatically.

    ``decide`` names parameters no alarm can supply (e.g. ``replicas``) with guidance on how to
    choose them; they are not rendered."""

    decide: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _decide(self) -> Proposal:
        both = set(self.decide) & set(self.params)
        if both:
            raise ValueError(f"decide and params both set {sorted(both)}")
        return self


class MetricMatch(_Strict):
    """A CloudWatch metric this runbook covers. ``name`` may be a glob (``pod_memory_*``);
    without ``namespace`` any namespace matches."""

    namespace: str | None = None
    name: str = Field(min_length=1)


class Matches(_Strict):
    alarm_names: list[str] = Field(default_factory=list, description="Alarm name globs, case-insensitive")
    metrics: list[MetricMatch] = Field(default_factory=list)
    keywords: list[str] = Field(
        default_factory=list,
        description="Words looked for at word starts in the alarm name, metric name and description",
    )
    fallback: bool = Field(default=False, description="Offered only when no other runbook matches")

    @field_validator("alarm_names", "keywords")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not isinstance(v, str) or not v.strip() for v in value):
            raise ValueError("entries must be non-empty strings")
        return [v.strip() for v in value]

    @model_validator(mode="after")
    def _something(self) -> Matches:
        if not (self.alarm_names or self.metrics or self.keywords or self.fallback):
            raise ValueError("needs at least one of alarm_names, metrics, keywords (or fallback: true)")
        return self


class Runbook(_Strict):
    id: str
    title: str = Field(min_length=3, max_length=200)
    severity: Severity
    summary: str = Field(min_length=10, max_length=1000)
    matches: Matches
    steps: list[Step] = Field(min_length=1, max_length=20)
    proposals: list[Proposal] = Field(default_factory=list, max_length=10)
    related: list[str] = Field(default_factory=list, description="Ids of related runbooks")
    body: str = Field(default="", description="The Markdown after the front matter")
    source: str = Field(default="", description="File the runbook was loaded from")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not RUNBOOK_ID.match(value):
            raise ValueError("must be lowercase letters, digits and '-' (1-64 chars)")
        return value

    @model_validator(mode="after")
    def _read_only_steps(self) -> Runbook:
        for i, step in enumerate(self.steps):
            if step.operation in MUTATING_OPERATIONS:
                raise ValueError(
                    f"steps[{i}]: {step.operation} changes state; "
                    "put it under proposals (never run automatically)"
                )
        for i, prop in enumerate(self.proposals):
            if prop.operation not in MUTATING_OPERATIONS:
                raise ValueError(f"proposals[{i}]: {prop.operation} is read-only; put it under steps")
        return self

    @property
    def severity_rank(self) -> int:
        return SEVERITY_RANK[self.severity]
