"""Resource names and ARNs derived from the configuration (one place, so tests and the stack agree)."""

from __future__ import annotations

from dataclasses import dataclass

# Kubernetes group the scaling role is mapped to (bound by infra/k8s/opsagent-scaler-rbac.yaml).
SCALER_GROUP = "opsagent-scaler"


@dataclass(frozen=True)
class Names:
    prefix: str

    def function(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def role(self, name: str) -> str:
        return f"{self.prefix}-{name}"[:64]

    def table(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def log_group(self, function: str) -> str:
        return f"/aws/lambda/{self.function(function)}"

    @property
    def agent(self) -> str:
        return f"{self.prefix}-agent"

    @property
    def guardrail(self) -> str:
        return f"{self.prefix}-guardrail"

    @property
    def key_alias(self) -> str:
        return f"alias/{self.prefix}"

    @property
    def alarm_rule(self) -> str:
        return f"{self.prefix}-alarm-state-change"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}-trigger-dlq"


@dataclass(frozen=True)
class Arns:
    """ARN builders; ``account`` may be a Terraform token (aws_caller_identity) when not configured."""

    partition: str
    region: str
    account: str

    def bedrock(self, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        acct = self.account if account is None else account
        return f"arn:{self.partition}:bedrock:{region or self.region}:{acct}:{resource}"

    def foundation_model(self, model_id: str) -> str:
        return self.bedrock(f"foundation-model/{model_id}", account="")

    def agent_pattern(self) -> str:
        return self.bedrock("agent/*")

    def eks_cluster(self, name: str) -> str:
        return f"arn:{self.partition}:eks:{self.region}:{self.account}:cluster/{name}"

    def log_group_pattern(self, prefix: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:/aws/lambda/{prefix}-*"

    @property
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"

    def eks_access_policy(self, name: str) -> str:
        return f"arn:{self.partition}:eks::aws:cluster-access-policy/{name}"
