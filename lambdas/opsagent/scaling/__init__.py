"""The ``scaling`` action group's domain: read a Deployment, scale it within the safety policy.

Public API (plain Python, no Lambda/Bedrock types)::

    from opsagent.scaling import Scaling, ScaleRequest, load_policy, evaluate
    svc = Scaling.from_env()            # OPSAGENT_POLICY, OPSAGENT_STATE_TABLE, OPSAGENT_AUDIT_TABLE, ...
    svc.get_deployment(ctx, "shop", "checkout")                       # -> DeploymentInfo
    svc.scale(ctx, "shop", "checkout", ScaleRequest(replicas=6, reason="CPU 95%"))  # -> ScaleResult

Names resolve lazily so importing the package costs only what is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsagent.scaling.models import DeploymentInfo, ScaleRequest, ScaleResult
    from opsagent.scaling.policy import PolicyDecision, ScalingPolicy, evaluate, load_policy
    from opsagent.scaling.service import OperationInProgress, ScaleConflict, Scaling

__all__ = [
    "DeploymentInfo",
    "OperationInProgress",
    "PolicyDecision",
    "ScaleConflict",
    "ScaleRequest",
    "ScaleResult",
    "Scaling",
    "ScalingPolicy",
    "evaluate",
    "load_policy",
]

_WHERE = {
    "DeploymentInfo": "models",
    "ScaleRequest": "models",
    "ScaleResult": "models",
    "PolicyDecision": "policy",
    "ScalingPolicy": "policy",
    "evaluate": "policy",
    "load_policy": "policy",
    "OperationInProgress": "service",
    "ScaleConflict": "service",
    "Scaling": "service",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"opsagent.scaling.{_WHERE[name]}"), name)
    raise AttributeError(name)
