"""The agent instruction: the versioned prompt file plus what this environment allows, rendered at synth.

Without the namespaces in the instruction, a question that names no namespace makes the model guess one,
and a namespace the tools cannot see reads as "no problem pods" (healthy). The rendered block names the
readable namespaces (``eks.allowed_namespaces``), the scalable ones and the replica limits (the scaling
policy, with the runtime model's defaults; kept short: the whole instruction must stay <= 4,000
characters) and tells the model to ask (AMAZON.UserInput) when the person
did not say which one.
"""

from __future__ import annotations

from opsagent_infra.config import OpsAgentConfig, _ensure_lambdas_importable

ENVIRONMENT_HEADING = "This deployment:"


def environment_block(config: OpsAgentConfig) -> str:
    _ensure_lambdas_importable()
    from opsagent.scaling.policy import ScalingPolicy

    policy = ScalingPolicy.model_validate(config.scaling_policy)
    scalable = ", ".join(policy.allowed_namespaces) or "none"
    protected = ", ".join(policy.protected_namespaces)
    return "\n".join(
        [
            ENVIRONMENT_HEADING,
            f"- Readable namespaces: {', '.join(config.eks.allowed_namespaces)}.",
            f"- Scalable: {scalable}" + (f"; protected: {protected}." if protected else "."),
            f"- Replicas {policy.min_replicas}-{policy.max_replicas}, at most {policy.max_step} per change.",
            "- No namespace given: ask, never guess. Other namespaces are invisible to your tools, "
            "not healthy.",
        ]
    )


def render_instruction(template: str, config: OpsAgentConfig) -> str:
    return f"{template.strip()}\n\n{environment_block(config)}"
