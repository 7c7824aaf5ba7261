"""The agent instruction: the versioned prompt file plus what this environment allows, rendered at synth.

Without the namespaces in the instruction, a question that names no namespace makes the model guess one,
and a namespace the tools cannot see reads as "no problem pods" (healthy). The rendered block names the
readable namespaces (``eks.allowed_namespaces``), the scalable ones and the replica limits (the scaling
policy, with the runtime model's defaults) and tells the model to ask (AMAZON.UserInput) when the person
did not say which one.
"""

from __future__ import annotations

from opsagent_infra.config import OpsAgentConfig, _ensure_lambdas_importable

ENVIRONMENT_HEADING = "This deployment (rendered from the environment configuration):"


def environment_block(config: OpsAgentConfig) -> str:
    _ensure_lambdas_importable()
    from opsagent.scaling.policy import ScalingPolicy

    policy = ScalingPolicy.model_validate(config.scaling_policy)
    readable = ", ".join(config.eks.allowed_namespaces)
    scalable = ", ".join(policy.allowed_namespaces) or "none"
    protected = ", ".join(policy.protected_namespaces)
    lines = [
        ENVIRONMENT_HEADING,
        f"- Cluster {config.eks.cluster_name}. Readable namespaces (pods, logs, metrics): {readable}.",
        f"- Scalable namespaces (scaleDeployment): {scalable}"
        + (f"; protected, never scaled: {protected}." if protected else "."),
        f"- Replicas per Deployment: {policy.min_replicas} to {policy.max_replicas}, at most "
        f"{policy.max_step} per change.",
        "- If the person did not say which namespace (or workload) they mean, ask them; never guess. A "
        "namespace outside these lists is not visible to your tools: say so, never report it healthy.",
    ]
    return "\n".join(lines)


def render_instruction(template: str, config: OpsAgentConfig) -> str:
    return f"{template.strip()}\n\n{environment_block(config)}"
