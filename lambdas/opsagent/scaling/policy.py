"""The scaling safety policy: typed configuration and the rules every scale request passes.

Configuration comes from ``OPSAGENT_POLICY`` (a JSON object; every key optional, unknown keys are
an error so a typo never silently disables a limit). Unset means the defaults below, and the
default allowlist is **empty**: a fresh deployment can read everything and scale nothing until an
operator lists the namespaces it may touch.

Rules run cheapest and most fundamental first, and the first refusal wins:

=====  =======================  ====================================================================
order  rule (stable id)         refuses when
=====  =======================  ====================================================================
1      protected_namespace      the namespace is protected (built-in system namespaces + configured)
2      namespace_not_allowed    the namespace is not in ``allowed_namespaces``
3      replica_floor            target < ``min_replicas`` (0 needs ``allow_scale_to_zero: true``)
4      replica_ceiling          target > ``max_replicas``
5      opt_out_label            the Deployment or its pod template has ``opsagent.io/scaling: disabled``
6      hpa_managed              an autoscaling/v2 HPA targets the Deployment
7      max_step                 abs(target - current spec.replicas) > ``max_step``
8      cooldown                 ``cooldown_max_operations`` scale operations already applied to this
                                Deployment within the last ``cooldown_window_seconds``
9      incident_budget          ``incident_budget`` mutations already applied in this incident
=====  =======================  ====================================================================

Rules 1-4 need only the request and the configuration (no I/O at all); 5-7 need the Deployment
and its HPAs (one cluster read); 8-9 need the state table. :func:`evaluate` is pure: callers
pass what they read, and it returns a :class:`PolicyDecision` (allowed, or the rule that refuses,
its limit and a readable reason). :meth:`PolicyDecision.raise_if_refused` turns a refusal into
:class:`~opsagent.errors.PolicyRefused` (HTTP 403).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opsagent.errors import PolicyRefused

# Always protected, whatever the configuration says (the configured list is added to these).
BUILTIN_PROTECTED_NAMESPACES: tuple[str, ...] = (
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "amazon-cloudwatch",
    "amazon-guardduty",
    "aws-observability",
    "cert-manager",
    "karpenter",
    "gatekeeper-system",
    "kyverno",
    "istio-system",
    "linkerd",
)

RULES: tuple[str, ...] = (
    "protected_namespace",
    "namespace_not_allowed",
    "replica_floor",
    "replica_ceiling",
    "opt_out_label",
    "hpa_managed",
    "max_step",
    "cooldown",
    "incident_budget",
)

_NAMESPACE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_LABEL_KEY = re.compile(
    r"(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
)


class ScalingPolicy(BaseModel):
    """The limits every scale request is checked against (``OPSAGENT_POLICY``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces where scaling is allowed. Empty (the default) = no mutations anywhere.",
    )
    protected_namespaces: list[str] = Field(
        default_factory=list,
        description="Extra namespaces never scaled, added to the built-in system namespaces.",
    )
    opt_out_label: str = Field(
        default="opsagent.io/scaling", description="Deployment label key that opts a workload out"
    )
    opt_out_value: str = Field(default="disabled", max_length=63, description="... when it has this value")
    min_replicas: int = Field(default=1, ge=0, le=10_000, description="Replica floor")
    allow_scale_to_zero: bool = Field(default=False, description="Must be true for min_replicas 0")
    max_replicas: int = Field(default=10, ge=1, le=10_000, description="Replica ceiling")
    max_step: int = Field(default=3, ge=1, le=10_000, description="Largest change of replicas in one call")
    cooldown_max_operations: int = Field(
        default=3, ge=1, le=100, description="Scale operations allowed per Deployment per window"
    )
    cooldown_window_seconds: int = Field(
        default=3600, ge=60, le=7 * 86400, description="Length of the rolling cooldown window"
    )
    incident_budget: int = Field(default=10, ge=1, le=1000, description="Mutations allowed per incident")

    @field_validator("allowed_namespaces", "protected_namespaces")
    @classmethod
    def _namespaces(cls, value: list[str]) -> list[str]:
        bad = [ns for ns in value if not isinstance(ns, str) or not _NAMESPACE.fullmatch(ns)]
        if bad:
            raise ValueError(f"not valid namespace names (RFC 1123 labels, no wildcards): {bad[:5]}")
        if len(value) > 500:
            raise ValueError("at most 500 namespaces")
        return sorted(set(value))

    @field_validator("opt_out_label")
    @classmethod
    def _label_key(cls, value: str) -> str:
        if len(value) > 316 or not _LABEL_KEY.fullmatch(value):
            raise ValueError("not a valid Kubernetes label key ([prefix/]name)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ScalingPolicy:
        if self.min_replicas == 0 and not self.allow_scale_to_zero:
            raise ValueError("min_replicas 0 requires allow_scale_to_zero: true")
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})"
            )
        return self

    @property
    def protected(self) -> frozenset[str]:
        return frozenset(BUILTIN_PROTECTED_NAMESPACES) | frozenset(self.protected_namespaces)

    def summary(self) -> dict[str, Any]:
        """The limits, for responses (small)."""
        return {
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            "max_step": self.max_step,
            "cooldown": f"{self.cooldown_max_operations} per {self.cooldown_window_seconds}s per deployment",
            "incident_budget": self.incident_budget,
        }


class PolicySettings(BaseModel):
    """The environment: ``OPSAGENT_POLICY`` holds the whole policy as one JSON object."""

    policy: ScalingPolicy = Field(default_factory=ScalingPolicy)


def load_policy(environ: Mapping[str, str] | None = None) -> ScalingPolicy:
    """The policy from ``OPSAGENT_POLICY`` (defaults when unset). Raises ConfigurationError naming
    the bad field, e.g. ``OPSAGENT_POLICY.max_step: Input should be greater than or equal to 1``."""
    from opsagent.settings import load_settings

    return load_settings(PolicySettings, environ).policy


# --- evaluation ------------------------------------------------------------------------------


class WorkloadFacts(BaseModel):
    """What the cluster says about the Deployment (rules 5-7)."""

    current_replicas: int
    labels: dict[str, str] = Field(default_factory=dict, description="The Deployment's metadata.labels")
    template_labels: dict[str, str] = Field(
        default_factory=dict, description="Its pod template's labels (the opt-out counts there too)"
    )
    hpa_name: str | None = None
    hpa_min: int | None = None
    hpa_max: int | None = None


class QuotaUsage(BaseModel):
    """What the state table says (rules 8-9)."""

    cooldown_used: int = 0
    cooldown_next_at: str | None = Field(
        default=None, description="When the oldest operation leaves the window"
    )
    budget_used: int = 0


class PolicyDecision(BaseModel):
    """The outcome of :func:`evaluate`: allowed, or the first rule that refuses."""

    allowed: bool
    rule: str | None = None
    limit: Any = None
    reason: str
    checked: list[str] = Field(default_factory=list, description="Rules evaluated, in order")

    def raise_if_refused(self, **details: Any) -> None:
        if not self.allowed:
            raise PolicyRefused(self.reason, rule=self.rule or "unknown", limit=self.limit, **details)


def _refuse(rule: str, limit: Any, reason: str, checked: list[str]) -> PolicyDecision:
    return PolicyDecision(allowed=False, rule=rule, limit=limit, reason=reason, checked=[*checked, rule])


def evaluate(
    policy: ScalingPolicy,
    namespace: str,
    deployment: str,
    target: int | None,
    workload: WorkloadFacts | None = None,
    usage: QuotaUsage | None = None,
) -> PolicyDecision:
    """Check rules in order. Without ``workload`` only rules 1-4 run; without ``usage`` rules 8-9
    are skipped; with ``target=None`` the target-specific rules (3, 4, 7) are skipped (getDeployment
    asks "could it be scaled at all?"). ``allowed`` means every rule that ran passed."""
    checked: list[str] = []
    where = f"{namespace}/{deployment}"

    if namespace in policy.protected:
        return _refuse(
            "protected_namespace",
            sorted(policy.protected),
            f"namespace {namespace!r} is protected: OpsAgent never scales workloads there",
            checked,
        )
    checked.append("protected_namespace")

    if namespace not in policy.allowed_namespaces:
        allowed = policy.allowed_namespaces
        hint = f"allowed: {allowed[:20]}" if allowed else "no namespace is allowed (OpsAgent is read-only)"
        return _refuse(
            "namespace_not_allowed",
            allowed,
            f"scaling in namespace {namespace!r} is not allowed by the policy; {hint}. "
            "An operator can add it to OPSAGENT_POLICY.allowed_namespaces.",
            checked,
        )
    checked.append("namespace_not_allowed")

    if target is not None and target < policy.min_replicas:
        return _refuse(
            "replica_floor",
            policy.min_replicas,
            f"{target} replicas is below the floor of {policy.min_replicas}"
            + ("; scaling to zero needs min_replicas 0 and allow_scale_to_zero true" if target == 0 else ""),
            checked,
        )
    checked.append("replica_floor")

    if target is not None and target > policy.max_replicas:
        return _refuse(
            "replica_ceiling",
            policy.max_replicas,
            f"{target} replicas is above the ceiling of {policy.max_replicas}",
            checked,
        )
    checked.append("replica_ceiling")

    if workload is None:
        return PolicyDecision(allowed=True, reason="static rules pass", checked=checked)

    opted_out = [
        place
        for place, labels in (("Deployment", workload.labels), ("pod template", workload.template_labels))
        if labels.get(policy.opt_out_label) == policy.opt_out_value
    ]
    if opted_out:
        return _refuse(
            "opt_out_label",
            f"{policy.opt_out_label}={policy.opt_out_value}",
            f"{where} ({' and '.join(opted_out)}) is labelled {policy.opt_out_label}={policy.opt_out_value}: "
            "its owners opted out of automated scaling; ask them",
            checked,
        )
    checked.append("opt_out_label")

    if workload.hpa_name:
        return _refuse(
            "hpa_managed",
            workload.hpa_name,
            f"{where} is managed by HorizontalPodAutoscaler {workload.hpa_name!r} "
            f"(min {workload.hpa_min}, max {workload.hpa_max}); a manual scale would be undone by the HPA. "
            "Change the HPA's minReplicas/maxReplicas instead (a human action).",
            checked,
        )
    checked.append("hpa_managed")

    step = 0 if target is None else abs(target - workload.current_replicas)
    if step > policy.max_step:
        window = allowed_range(policy, workload.current_replicas)
        now_ok = f"allowed now: {window[0]}..{window[1]}" if window else "no count is allowed from here"
        return _refuse(
            "max_step",
            policy.max_step,
            f"{workload.current_replicas} -> {target} changes {step} replicas; at most {policy.max_step} per "
            f"operation ({now_ok}). Scale in steps.",
            checked,
        )
    checked.append("max_step")

    if usage is None:
        return PolicyDecision(allowed=True, reason="static and workload rules pass", checked=checked)

    if usage.cooldown_used >= policy.cooldown_max_operations:
        return _refuse(
            "cooldown",
            policy.cooldown_max_operations,
            f"{where} was already scaled {usage.cooldown_used} times in the last "
            f"{policy.cooldown_window_seconds}s (limit {policy.cooldown_max_operations}); "
            f"next operation allowed after {usage.cooldown_next_at or 'the window passes'}",
            checked,
        )
    checked.append("cooldown")

    if usage.budget_used >= policy.incident_budget:
        return _refuse(
            "incident_budget",
            policy.incident_budget,
            f"this incident already used its budget of {policy.incident_budget} mutations; "
            "a human must take over (or open a new incident)",
            checked,
        )
    checked.append("incident_budget")

    return PolicyDecision(allowed=True, reason="all rules pass", checked=checked)


def allowed_range(policy: ScalingPolicy, current: int) -> tuple[int, int] | None:
    """The replica counts one call may set now (floor/ceiling/step only); None when no count
    satisfies all three (e.g. the Deployment is far above the ceiling)."""
    lo = max(policy.min_replicas, current - policy.max_step)
    hi = min(policy.max_replicas, current + policy.max_step)
    return (lo, hi) if lo <= hi else None
